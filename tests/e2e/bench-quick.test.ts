// The benchmark harness in --quick mode: tiny suites, one round. It checks
// that every benchmarked command runs and the tables print; it never looks at
// a timing (speed is measured by `npm run bench`, not asserted in tests).
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SUITES } from "../../bench/suites.js";
import { pythonWithPytest, REPO } from "../helpers/kiln.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runQuickBench(): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [join(REPO, "dist-bench/run.js"), "--quick", "--python", pythonWithPytest()],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** The markdown between "### <name> —" and the next heading. */
function section(stdout: string, name: string): string {
  const start = stdout.indexOf(`\n### ${name} — `);
  if (start < 0) return "";
  const end = stdout.indexOf("\n### ", start + 1);
  return stdout.slice(start, end < 0 ? undefined : end);
}

describe("npm run bench -- --quick", () => {
  let run: Run;

  beforeAll(async () => {
    const build = spawnSync("npx", ["tsc", "-p", "tsconfig.bench.json"], {
      cwd: REPO,
      encoding: "utf8",
    });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    run = await runQuickBench();
  }, 240_000);

  it("exits 0: every command ran every suite", () => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });

  it.each(SUITES.map((suite) => suite.name))("prints a table for the %s suite", (name) => {
    const text = section(run.stdout, name);
    expect(text, run.stdout).not.toBe("");
    expect(text).toMatch(/^\| command \| median s \| min–max s \|/m);
    for (const label of ["pytest", "kiln -n 1", "kiln -n 2"]) {
      // A timed row starts with a number of seconds, not a failure note.
      expect(text).toMatch(new RegExp(`^\\| \`${label}\` \\| \\d+\\.\\d\\d \\|`, "m"));
    }
  });

  it("prints Kiln's start-up and memory tables", () => {
    expect(run.stdout).toMatch(/^### Kiln start-up/m);
    expect(run.stdout).toMatch(/^\| `kiln -n 2` \| worker \(fork\) \|/m);
  });
});
