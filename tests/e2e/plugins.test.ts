// The plugins people run with pytest, under Kiln with several workers, against
// plain pytest on the same interpreter: pytest 8.4 and 9.1 (the venvs; the
// plugins are not in Debian's python3), and Debian's 7.2 where it has the plugin.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HARNESS, type RecordedOutcomes, runKilnRecorded } from "../helpers/kiln.js";
import { canImport, pluginPython } from "../helpers/plugin-projects.js";
import type { PytestVersion } from "../helpers/pythons.js";
import { copyProject, tempDir } from "../helpers/temp.js";

const VERSIONS: PytestVersion[] = ["8.4", "9.1"];
const ALL = [
  "pytest_cov",
  "pytest_asyncio",
  "pytest_mock",
  "pytest_timeout",
  "xdist",
  "hypothesis",
];

function copy(name: string): string {
  return copyProject(name);
}

interface Plain {
  code: number | null;
  stdout: string;
  outcomes: RecordedOutcomes;
}

/** `python -m pytest` with the outcome recorder, as scripts/regenerate-expected.mjs runs it. */
function plainPytest(python: string, args: string[], cwd: string): Plain {
  const scratch = tempDir("kiln-plain-");
  const file = join(scratch, "outcomes.json");
  const r = spawnSync(
    python,
    ["-m", "pytest", "-p", "kiln_harness.outcome_recorder", "-p", "no:cacheprovider", ...args],
    {
      cwd,
      encoding: "utf8",
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: HARNESS,
        KILN_OUTCOMES_FILE: file,
      },
    },
  );
  const outcomes = JSON.parse(readFileSync(file, "utf8")) as RecordedOutcomes;
  return { code: r.status, stdout: r.stdout, outcomes };
}

async function kiln(python: string, args: string[], cwd: string) {
  return runKilnRecorded(["-n", "2", "-p", "no:cacheprovider", ...args], {
    cwd,
    env: { KILN_PYTHON: python },
  });
}

/** pytest-cov's terminal report: its "coverage: platform ..." line through TOTAL. */
function coverageReport(stdout: string): string {
  const start = stdout.search(/^_+ coverage: /m);
  const total = stdout.indexOf("\nTOTAL ", start);
  if (start < 0 || total < 0) throw new Error(`no coverage report in:\n${stdout}`);
  return stdout.slice(start, stdout.indexOf("\n", total + 1));
}

/** The FAILURES block of one test: from its "____ name ____" title to the next title or section. */
function failureBlock(stdout: string, test: string): string {
  const title = new RegExp(`^_+ ${test} _+$`, "m");
  const start = stdout.search(title);
  if (start < 0) throw new Error(`no failure block for ${test} in:\n${stdout}`);
  const rest = stdout.slice(start + 1);
  const end = rest.search(/^(_{3,} \S+ _{3,}|={3,} .* ={3,})$/m);
  return stdout.slice(start, end < 0 ? undefined : start + 1 + end);
}

describe.each(VERSIONS)("pytest %s", (version) => {
  const venv = pluginPython(ALL, version);
  const python = venv.python ?? "";

  describe.skipIf(venv.skip !== undefined)("with its plugins", () => {
    it.each([
      ["term-missing", ["--cov", "--cov-report=term-missing"]],
      ["branch", ["--cov=calc", "--cov-branch", "--cov-report=term-missing"]],
    ])("pytest-cov %s: forked workers' data combine into pytest's report", async (_, args) => {
      const serialDir = copy("plugin_cov");
      const kilnDir = copy("plugin_cov");
      const serial = plainPytest(python, args, serialDir);
      const { result, recorded } = await kiln(python, args, kilnDir);
      expect(serial.code).toBe(0);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(recorded.outcomes).toEqual(serial.outcomes.outcomes);
      // Totals and missing lines, byte for byte: the no_cover test's line and
      // the lazily imported module measured only in a worker included.
      expect(coverageReport(result.stdout)).toBe(coverageReport(serial.stdout));
      expect(coverageReport(result.stdout)).toMatch(/calc\/ops\.py .* 12, 16-17\n/);
      // One combined data file is left, as after serial pytest --cov.
      const dataFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith(".coverage"));
      expect(dataFiles(kilnDir)).toEqual(dataFiles(serialDir));
      expect(result.stderr).not.toMatch(/CoverageWarning|Traceback/);
    });

    it("pytest-cov --cov-context=test: each line's test contexts as under serial pytest", async () => {
      const args = ["--cov", "--cov-context=test", "--cov-report="];
      const serialDir = copy("plugin_cov");
      const kilnDir = copy("plugin_cov");
      plainPytest(python, args, serialDir);
      const { result } = await kiln(python, args, kilnDir);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const contexts = (dir: string) => {
        const script = [
          "import json, os, coverage",
          "d = coverage.CoverageData(); d.read()",
          "print(json.dumps({os.path.relpath(f): {str(n): sorted(c) for n, c in sorted(d.contexts_by_lineno(f).items())} for f in sorted(d.measured_files())}, sort_keys=True))",
        ].join("\n");
        const r = spawnSync(python, ["-c", script], { cwd: dir, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Record<string, Record<string, string[]>>;
      };
      const fromKiln = contexts(kilnDir);
      expect(fromKiln["calc/ops.py"]?.["2"]).toEqual(["tests/test_ops.py::test_add|run"]);
      expect(fromKiln).toEqual(contexts(serialDir));
    });

    it.each(["strict", "auto"])("pytest-asyncio %s mode: outcomes equal pytest's", async (mode) => {
      const dir = copy("plugin_asyncio");
      const args = ["-o", `asyncio_mode=${mode}`];
      const serial = plainPytest(python, args, dir);
      const { result, recorded } = await kiln(python, args, dir);
      expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
      expect(result.code).toBe(serial.code);
      expect(failureBlock(result.stdout, "test_marked_fails")).toBe(
        failureBlock(serial.stdout, "test_marked_fails"),
      );
    });

    it("pytest-mock: patches undone per test, failure text as pytest's", async () => {
      const dir = copy("plugin_mock");
      const serial = plainPytest(python, [], dir);
      // One worker runs the module in order, so a leaked patch would show.
      const { result, recorded } = await kiln(python, ["-n", "1"], dir);
      expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
      expect(recorded.outcomes["test_mocking.py::test_patch_undone_after_previous_test"]).toBe(
        "passed",
      );
      expect(failureBlock(result.stdout, "test_failed_assertion_text")).toBe(
        failureBlock(serial.stdout, "test_failed_assertion_text"),
      );
    });

    it("hypothesis: shrinking and the falsifying example as under pytest", async () => {
      const serialDir = copy("plugin_hypothesis");
      const kilnDir = copy("plugin_hypothesis");
      const serial = plainPytest(python, [], serialDir);
      const { result, recorded } = await kiln(python, [], kilnDir);
      expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
      expect(result.stdout).toMatch(/Failing test case: test_shrinks_to_ten\(\nE\s+x=10,/);
      if (version !== "8.4") {
        // pytest 8's assertion rewriting asks config.get_terminal_writer()
        // for its highlighter; the worker's terminal reporter is unregistered
        // on this branch, so under 8.4 the text differs until the worker
        // keeps a hookless reporter (the --pdb fix does that).
        expect(failureBlock(result.stdout, "test_shrinks_to_ten")).toBe(
          failureBlock(serial.stdout, "test_shrinks_to_ten"),
        );
      }
    });

    it("kiln --timeout is pytest-timeout's --timeout when pytest-timeout is active", async () => {
      const dir = copy("plugin_timeout");
      const serial = plainPytest(python, ["--timeout", "1"], dir);
      const { result, recorded } = await kiln(python, ["--timeout", "1"], dir);
      expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
      expect(result.code).toBe(1);
      // pytest-timeout's own header and precedence: the marker's 4 s wins.
      expect(result.stdout).toContain("kiln: --timeout 1s is applied by pytest-timeout");
      expect(result.stdout).toMatch(/^timeout: 1\.0s$/m);
      expect(recorded.outcomes["test_slow.py::test_marker_allows_longer"]).toBe("passed");
      // Not Kiln's watchdog: the worker survived the timeout.
      expect(result.stdout).not.toContain("Kiln stopped worker");
    });

    it("without pytest-timeout (-p no:timeout), --timeout is Kiln's watchdog", async () => {
      const dir = copy("plugin_timeout");
      const { result, recorded } = await kiln(python, ["-p", "no:timeout", "--timeout", "1"], dir);
      expect(result.stdout).toContain("Failed: Timeout >1s: test_slow.py::test_too_slow");
      expect(result.stdout).not.toContain("applied by pytest-timeout");
      // The marker means nothing without the plugin: Kiln stops the 1.5 s test too.
      expect(recorded.outcomes["test_slow.py::test_marker_allows_longer"]).toBe("failed");
    });

    it("pytest-xdist loaded with -n in addopts: Kiln's -n runs everything", async () => {
      const dir = copy("plugin_xdist");
      const serial = plainPytest(python, [], dir); // real xdist, -n 2 from addopts
      const { result, recorded } = await kiln(python, [], dir);
      expect(result.stdout).toContain(
        "kiln: pytest-xdist's -n 2 ignored: Kiln's -n sets the workers",
      );
      expect(result.stdout).not.toContain("bringing up nodes");
      expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
      expect(result.code).toBe(1);
    });
  });
});

describe("Debian's pytest 7.2 with its pytest-timeout 2.1", () => {
  const python = "/usr/bin/python3";
  it.skipIf(!canImport(python, ["pytest_timeout"]))(
    "the timed-out test's failure text is pytest-timeout's, as under plain pytest",
    async () => {
      const dir = copy("plugin_timeout");
      const serial = plainPytest(python, ["--timeout", "1"], dir);
      const { result, recorded } = await kiln(python, ["--timeout", "1"], dir);
      expect(recorded.outcomes).toEqual(serial.outcomes.outcomes);
      expect(failureBlock(result.stdout, "test_too_slow")).toBe(
        failureBlock(serial.stdout, "test_too_slow"),
      );
    },
  );
});

describe("Debian's pytest 7.2 with its pytest-xdist 3.1", () => {
  const python = "/usr/bin/python3";
  it.skipIf(!canImport(python, ["xdist"]))("-p xdist and addopts -n: as under pytest", async () => {
    const dir = copy("plugin_xdist");
    const serial = plainPytest(python, [], dir);
    const { result, recorded } = await kiln(python, [], dir);
    expect(result.stdout).toContain("kiln: pytest-xdist's -n 2 ignored");
    expect(recorded.outcomes, result.stdout).toEqual(serial.outcomes.outcomes);
    expect(result.code).toBe(serial.code);
  });
});
