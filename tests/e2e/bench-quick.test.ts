// The benchmark harness in --quick mode: tiny suites, one round. It checks
// that every benchmarked command runs and the tables print; it never looks at
// a timing (speed is measured by `npm run bench`, not asserted in tests).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUITES } from "../../bench/suites.js";
import { pythonWithPytest, REPO } from "../helpers/kiln.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runQuickBench(): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BUILT, "--quick", "--python", pythonWithPytest()], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
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

const BUILT = join(REPO, "dist-bench/run.js");

/** The newest .ts under bench/, leaving out the generated suites and results. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "suites" && entry.name !== "results") {
        newest = Math.max(newest, newestSource(path));
      }
    } else if (entry.name.endsWith(".ts")) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** `npm run ci` builds the bench before the tests; compile here only when that build is missing or stale. */
function benchBuildIsCurrent(): boolean {
  return existsSync(BUILT) && newestSource(join(REPO, "bench")) <= statSync(BUILT).mtimeMs;
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
    if (!benchBuildIsCurrent()) {
      const build = spawnSync("npx", ["tsc", "-p", "tsconfig.bench.json"], {
        cwd: REPO,
        encoding: "utf8",
      });
      expect(build.status, build.stdout + build.stderr).toBe(0);
    }
    run = await runQuickBench();
  }, 240_000);

  // The run's raw figures ("raw figures in <file>"): a test run's timings
  // mean nothing, and each run would add a file to bench/results.
  afterAll(() => {
    const file = /raw figures in (\S+\.json)/.exec(run?.stdout ?? "")?.[1];
    if (file?.startsWith(join(REPO, "bench/results/quick-"))) rmSync(file, { force: true });
  });

  it("exits 0: every command ran every suite", () => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });

  const quickSuites = SUITES.filter((suite) => suite.inQuick);

  it.each(quickSuites.map((suite) => suite.name))("prints a table for the %s suite", (name) => {
    const text = section(run.stdout, name);
    expect(text, run.stdout).not.toBe("");
    expect(text).toMatch(/^\| command \| median s \| min–max s \|/m);
    const labels = quickSuites.find((suite) => suite.name === name)?.labels ?? [];
    for (const label of labels.filter((l) => l === "pytest" || l.startsWith("kiln"))) {
      // A timed row starts with a number of seconds, not a failure note.
      // A label may hold regex characters: `kiln (daemon)`.
      const literal = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      expect(text).toMatch(new RegExp(`^\\| \`${literal}\` \\| \\d+\\.\\d\\d \\|`, "m"));
    }
  });

  it("prints Kiln's cold-run profile and in-run figures from its run records", () => {
    const text = section(run.stdout, "trivial");
    expect(text).toMatch(/^#### Cold-run profile of trivial/m);
    // Every phase the record has is a number of ms after the spawn.
    for (const phase of [
      "node ready \\(run:started\\)",
      "collection finished",
      "first test started",
      "exit",
    ]) {
      expect(text).toMatch(new RegExp(`^\\| ${phase} \\| \\d`, "m"));
    }
    expect(text).toMatch(/^#### In-run figures of trivial/m);
    expect(text).toMatch(
      /^\| `kiln -n 2` \| 2 \| \d[\d.]* \/ \d[\d.]* \| \d[\d.]* \/ \d[\d.]* \|/m,
    );
    expect(run.stdout).toMatch(/^### issue 16 targets: target vs now/m);
  });

  it("prints Kiln's start-up and memory tables", () => {
    expect(run.stdout).toMatch(/^### Kiln start-up/m);
    expect(run.stdout).toMatch(/^#### Memory per process during slow-tests/m);
    // The supervisor and the zygote live through the whole run. Not the
    // workers: in --quick they live ~50 ms and the 20 ms sampler can miss
    // them on a loaded machine (it did: a timing assertion in disguise).
    expect(run.stdout).toMatch(/^\| `kiln -n 2` \| node supervisor \|/m);
    expect(run.stdout).toMatch(/^\| `kiln -n 2` \| zygote \|/m);
  });
});
