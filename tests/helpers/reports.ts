// Helpers for the run-record and report tests: the run a project's
// `.kiln/runs/latest` points at (run them in a copyProject() copy from
// ./temp.ts, so latest is this test's run), and directory listings.
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, relative } from "node:path";

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
