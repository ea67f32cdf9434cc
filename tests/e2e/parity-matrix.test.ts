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
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECTS, REPO } from "../helpers/kiln.js";

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

let scratch = "";
let projectDirs: string[] = [];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "kiln-matrix-"));
  // Copies, so the runs leave no .kiln/ or caches in the committed fixtures.
  const names = readdirSync(PROJECTS).filter((name) =>
    existsSync(join(PROJECTS, name, "parity.json")),
  );
  projectDirs = names.sort().map((name) => {
    const dir = join(scratch, name);
    cpSync(join(PROJECTS, name), dir, {
      recursive: true,
      filter: (src) => !["/.kiln", "/__pycache__", "/.pytest_cache"].some((d) => src.endsWith(d)),
    });
    return dir;
  });
  const conftestError = join(scratch, "conftest_import_error");
  mkdirSync(conftestError);
  writeFileSync(join(conftestError, "pytest.ini"), "[pytest]\n");
  writeFileSync(
    join(conftestError, "conftest.py"),
    '"""A root conftest whose dependency is not installed."""\n\nimport kiln_example_missing_dependency  # noqa: F401\n',
  );
  writeFileSync(join(conftestError, "test_never_runs.py"), "def test_never_runs():\n    pass\n");
  writeFileSync(
    join(conftestError, "parity.json"),
    JSON.stringify({ runs: [{ name: "default", kiln_args: [], pytest_args: [], exit_code: 4 }] }),
  );
  projectDirs.push(conftestError);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("parity matrix", () => {
  it("has the parity tool built", () => {
    expect(existsSync(PARITY), "run `npm run build`").toBe(true);
  });

  it.each(MATRIX.map(({ series, python }) => [series, python] as const))(
    "pytest %s: every example project matches plain pytest",
    async (series, python) => {
      expect(pytestVersion(python)).toMatch(new RegExp(`^${series.replace(".", "\\.")}\\.`));
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
    600_000,
  );
});
