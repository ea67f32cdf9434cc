// The support matrix (README "Supported pytest versions"): the parity tool
// runs every example project, every run of its parity.json, under Debian's
// pytest 7.2 and the pytest 8.4 and 9.1 venvs that scripts/setup.sh makes,
// and any difference from plain pytest fails: outcomes, exit codes, failure
// text per phase, collection errors, the warnings summary. One more project,
// made here, has a root conftest that fails to import (exit 4 before the
// session, so it can't be an example project: the report tests need a run).
//
// A missing venv is a setup failure, not a skip: CI must check the matrix.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECTS, REPO } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

const PARITY = join(REPO, "dist/parity/main.js");

const MATRIX = [
  { series: "7.2", python: "/usr/bin/python3" },
  { series: "8.4", python: join(REPO, ".venvs/pytest-8.4/bin/python") },
  { series: "9.1", python: join(REPO, ".venvs/pytest-9.1/bin/python") },
] as const;

function pytestVersion(python: string): string {
  if (!existsSync(python)) {
    throw new Error(`${python} is missing: run scripts/setup.sh (it creates the pytest venvs)`);
  }
  const probe = spawnSync(python, ["-c", "import pytest; print(pytest.__version__)"], {
    encoding: "utf8",
  });
  if (probe.status !== 0) throw new Error(`${python} has no pytest: ${probe.stderr}`);
  return probe.stdout.trim();
}

function runParity(
  args: string[],
): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [PARITY, ...args], {
      cwd: REPO,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code, output, seconds: (Date.now() - started) / 1000 }));
  });
}

// The example projects by path: the parity tool runs each in a copy of its
// own (src/parity/projects.ts runDirectory), so the committed fixtures stay
// clean and each matrix run starts cold.
const examples = readdirSync(PROJECTS)
  .filter((name) => existsSync(join(PROJECTS, name, "parity.json")))
  .sort()
  .map((name) => join(PROJECTS, name));

/** The project no example can be; a fresh one per matrix run, since it runs in place. */
function conftestImportError(): string {
  const dir = join(tempDir("kiln-matrix-"), "conftest_import_error");
  mkdirSync(dir);
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  writeFileSync(
    join(dir, "conftest.py"),
    '"""A root conftest whose dependency is not installed."""\n\nimport kiln_example_missing_dependency  # noqa: F401\n',
  );
  writeFileSync(join(dir, "test_never_runs.py"), "def test_never_runs():\n    pass\n");
  writeFileSync(
    join(dir, "parity.json"),
    JSON.stringify({ runs: [{ name: "default", kiln_args: [], pytest_args: [], exit_code: 4 }] }),
  );
  return dir;
}

describe("parity matrix", () => {
  it("has the parity tool built", () => {
    expect(existsSync(PARITY), "run `npm run build`").toBe(true);
  });

  // One after the other: the matrix is about half the suite's CPU time, so
  // running the three at once on 2 cores gains little (tried: no gain seen
  // on a loaded machine) and slows the timing-sensitive tests running beside it.
  it.for(MATRIX)(
    "pytest $series: every example project matches plain pytest",
    { timeout: 600_000 },
    async ({ series, python }, { expect }) => {
      expect(pytestVersion(python)).toMatch(new RegExp(`^${series.replace(".", "\\.")}\\.`));
      const projectDirs = [...examples, conftestImportError()];
      const { code, output, seconds } = await runParity([...projectDirs, "--python", python]);
      console.log(`parity matrix: pytest ${series}: ${seconds.toFixed(1)}s`);
      const failed = output
        .split("\n")
        .filter((line) => line.startsWith("FAIL "))
        .map((line) => line.slice(5));
      expect(failed, output).toEqual([]);
      expect(code, output).toBe(0);
      // Every project ran (the tool names each run it checked).
      for (const dir of projectDirs) expect(output).toContain(`${basename(dir)}:`);
    },
  );

  // Issue 11: every example project also through `kiln daemon` (its default
  // run, one pytest version, to keep CI time in bounds: the daemon's fork
  // is the same code under every version).
  it("pytest 9.1 through kiln daemon: every example project matches plain pytest", {
    timeout: 600_000,
  }, async ({ expect }) => {
    const python = MATRIX[2].python;
    const { code, output, seconds } = await runParity([
      ...examples,
      "--python",
      python,
      "--daemon",
      "--run",
      "default",
    ]);
    console.log(`parity matrix: pytest 9.1 --daemon: ${seconds.toFixed(1)}s`);
    const failed = output.split("\n").filter((line) => line.startsWith("FAIL "));
    expect(failed, output).toEqual([]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/parity: all \d+ runs match/);
  });
});

// The isolation profiles (DESIGN.md section 4) must not change what pytest
// reports: the same matrix under --isolate hermetic and strict, with the
// pytest 9.1 venv only (it has every plugin the example projects need, so
// none is skipped; one series keeps CI time down: the profiles are applied
// in the worker, the same code under every pytest).
//
// Under strict, three runs differ by design: big_output prints 3 MB, and
// strict's default file size limit (1 MiB, as Judge0's) stops pytest's
// capture file, which is a file like any other (EFBIG: the cause is checked
// in tests/security/sandbox-files.test.ts); plugin_cov's two runs are
// refused (exit 4): strict workers may not write coverage data into the
// project, so Kiln says so rather than lose the workers' coverage. The example projects are copied
// under $TMPDIR, so below /tmp: the private /tmp a worker gets keeps them.
const ISOLATED = [
  { profile: "hermetic", differs: [] as string[] },
  {
    profile: "strict",
    differs: ["big_output:default", "plugin_cov:default", "plugin_cov:branch"],
  },
] as const;

describe("parity matrix under the isolation profiles", () => {
  it.for(ISOLATED)(
    "--isolate $profile, pytest 9.1: every example project matches plain pytest",
    { timeout: 600_000 },
    async ({ profile, differs }, { expect }) => {
      const python = join(REPO, ".venvs/pytest-9.1/bin/python");
      expect(pytestVersion(python)).toMatch(/^9\.1\./);
      const projectDirs = [...examples, conftestImportError()];
      const { code, output, seconds } = await runParity([
        ...projectDirs,
        "--python",
        python,
        "--kiln-args",
        `--isolate ${profile}`,
      ]);
      console.log(`parity matrix: --isolate ${profile}, pytest 9.1: ${seconds.toFixed(1)}s`);
      const failed = output
        .split("\n")
        .filter((line) => line.startsWith("FAIL "))
        .map((line) => line.slice(5).replace(/ \(\d+ tests\)$/, ""));
      expect(failed, output).toEqual(differs);
      if (profile === "strict") {
        expect(output).toContain("ERROR: pytest-cov under --isolate strict");
      }
      expect(code, output).toBe(differs.length === 0 ? 0 : 1);
      for (const dir of projectDirs) expect(output).toContain(`${basename(dir)}:`);
    },
  );
});
