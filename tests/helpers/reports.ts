// Helpers for the run-record and report tests: an example project copied to
// a scratch directory (so `.kiln/runs/latest` is this test's run, whatever
// else runs in the fixtures meanwhile), and directory listings.
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { project } from "./kiln.js";

/** A copy of tests/fixtures/projects/<name> without its .kiln directory. */
export function copyProject(name: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `kiln-rep-${name}-`)));
  cpSync(project(name), dir, {
    recursive: true,
    filter: (src) => !/[\\/](\.kiln|__pycache__|\.pytest_cache)$/.test(src),
  });
  return dir;
}

/** The run directory `.kiln/runs/latest` points at. */
export function latestRun(projectDir: string): string {
  return realpathSync(join(projectDir, ".kiln", "runs", "latest"));
}

/** Every file under dir, as sorted "/"-separated relative paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path).split("\\").join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

/** The counts in pytest's final line ("8 failed, 14 passed in 0.5s"), as a map. */
export function finalLineCounts(stdout: string): Record<string, number> {
  const line = stdout
    .trimEnd()
    .split("\n")
    .reverse()
    .find((l) => / in [\d.]+s/.test(l));
  const counts: Record<string, number> = {};
  for (const match of (line ?? "").matchAll(/(\d+) (\w+)/g)) {
    const word = match[2] === "errors" ? "error" : (match[2] ?? "");
    counts[word] = Number(match[1]);
  }
  return counts;
}
