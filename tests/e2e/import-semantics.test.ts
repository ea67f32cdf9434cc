// Kiln's module registry and worker leave no trace that user code can see,
// under every supported pytest: no Kiln frame in tracebacks, warnings or
// inspect.stack(); code objects carry the file they were loaded from; no
// file left to the garbage collector; teardown errors after a stop reported.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type KilnResult, runKiln } from "../helpers/kiln.js";
import { PYTEST_VERSIONS, pythonFor } from "../helpers/pythons.js";

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-imports-"));
  temps.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function pytest(python: string, args: string[], cwd: string): KilnResult {
  const r = spawnSync(python, ["-m", "pytest", ...args], {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** pytest's output minus what legitimately differs: Kiln's header lines, timings. */
function comparable(output: string): string {
  return output
    .split("\n")
    .filter((line) => !line.startsWith("kiln: ") && !line.startsWith("platform "))
    .join("\n")
    .replace(/ in \d+\.\d+s/g, " in Ts")
    .replace(/0x[0-9a-f]+/g, "0xADDR");
}

function section(output: string, from: string, to: string): string {
  const start = output.indexOf(from);
  const end = output.indexOf(to, start + 1);
  return start < 0 ? "" : output.slice(start, end < 0 ? undefined : end);
}

const NO_CACHE = ["-p", "no:cacheprovider"];

describe.each(PYTEST_VERSIONS)("under pytest %s", (version) => {
  const python = pythonFor(version);
  const kiln = (args: string[], cwd: string) =>
    runKiln(["test", "--python", python, ...NO_CACHE, ...args], { cwd });

  it("adds no frame to imports: warnings' stacklevel and inspect.stack() see the importer", async () => {
    const dir = tempProject({
      "pytest.ini": "[pytest]\n",
      "lib_warns.py":
        "import warnings\nwarnings.warn('lib_warns is deprecated', DeprecationWarning, stacklevel=2)\n",
      "lib_stack.py":
        "import inspect\nCALLERS = [f.filename for f in inspect.stack()[1:] if not f.filename.startswith('<frozen')]\n",
      "lib_modlevel.py":
        "import warnings\nwarnings.warn('imported at collection', UserWarning, stacklevel=2)\n",
      "test_frames.py": [
        "import sys, warnings",
        "import lib_modlevel",
        "",
        "def test_warning_points_at_the_importing_line():",
        "    sys.modules.pop('lib_warns', None)",
        "    with warnings.catch_warnings(record=True) as caught:",
        "        warnings.simplefilter('always')",
        "        import lib_warns",
        "    assert (caught[0].filename, caught[0].lineno) == (__file__, 8)",
        "",
        "def test_module_body_sees_its_importer_first():",
        "    sys.modules.pop('lib_stack', None)",
        "    import lib_stack",
        "    assert lib_stack.CALLERS[0] == __file__",
        "",
      ].join("\n"),
    });
    const k = await kiln(["-n", "1", "-W", "always"], dir);
    const p = pytest(python, [...NO_CACHE, "-W", "always"], dir);
    expect(p.code, p.stdout).toBe(0);
    expect(k.code, k.stdout + k.stderr).toBe(0);
    expect(k.stdout).toContain("2 passed, 1 warning");
    // The collection-time warning's location in the summary: the test module.
    const where = (out: string) => section(out, "warnings summary", "-- Docs");
    expect(where(k.stdout)).toContain("test_frames.py:2: UserWarning: imported at collection");
    expect(where(k.stdout)).toBe(where(p.stdout));
  });

  it("prints collection errors and conftest import errors exactly as pytest does", async () => {
    const dir = tempProject({
      "pytest.ini": "[pytest]\n",
      "pkg/__init__.py": "",
      "pkg/broken.py": "def f():\n    return 1\n\nVALUE = f() / 0\n",
      "test_collect.py": "import pkg.broken\n\ndef test_x():\n    pass\n",
      "test_ok.py": "def test_ok():\n    pass\n",
    });
    const k = await kiln(["-n", "2"], dir);
    const p = pytest(python, NO_CACHE, dir);
    expect(k.code).toBe(2);
    expect(p.code).toBe(2);
    const errors = (out: string) => comparable(section(out, "= ERRORS =", "short test summary"));
    expect(errors(k.stdout)).toContain("pkg/broken.py:4: in <module>");
    expect(errors(k.stdout)).not.toContain("kiln_harness");
    expect(errors(k.stdout)).toBe(errors(p.stdout));

    const conftest = tempProject({
      "pytest.ini": "[pytest]\n",
      "helpers/__init__.py": "",
      "helpers/setup_env.py": "import not_installed_module\n",
      "conftest.py": "import helpers.setup_env\n",
      "test_a.py": "def test_a():\n    pass\n",
    });
    const kc = await kiln(["-n", "2"], conftest);
    const pc = pytest(python, NO_CACHE, conftest);
    expect(kc.code).toBe(pc.code);
    expect(kc.stderr).toContain("ImportError while loading conftest");
    expect(kc.stderr).not.toContain("kiln_harness");
    expect(comparable(kc.stderr)).toBe(comparable(pc.stderr));
  });

  it("names the file a module was loaded from, even when another file has the same bytes", async () => {
    const body = "def boom():\n    raise ValueError('from util')\n";
    const dir = tempProject({
      "pytest.ini": "[pytest]\n",
      "a/__init__.py": "",
      "a/util.py": body,
      "b/__init__.py": "",
      "b/util.py": body,
      "test_same.py":
        "import a.util, b.util\n\ndef test_a():\n    a.util.boom()\n\ndef test_b():\n    b.util.boom()\n\ndef test_code():\n    assert b.util.boom.__code__.co_filename == b.util.__file__\n    assert a.util.boom.__code__.co_filename == a.util.__file__\n",
    });
    const failures = (out: string) =>
      comparable(section(out, "= FAILURES =", "short test summary"));
    const k = await kiln(["-n", "1"], dir);
    const p = pytest(python, NO_CACHE, dir);
    expect(k.stdout).toContain("a/util.py:2: ValueError");
    expect(k.stdout).toContain("b/util.py:2: ValueError");
    expect(k.stdout).toContain("2 failed, 1 passed");
    expect(failures(k.stdout)).toBe(failures(p.stdout));

    // A moved checkout whose store (here: its .kiln) was filled elsewhere:
    // the code comes from the store, the file names from where it is now.
    const moved = mkdtempSync(join(tmpdir(), "kiln-moved-"));
    temps.push(moved);
    cpSync(dir, moved, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    const m = await kiln(["-n", "1"], moved);
    expect(m.stdout).toMatch(/registry: \d+ modules \(\d+ cached/);
    expect(m.stdout).not.toContain(dir);
    expect(m.stdout).toContain("2 failed, 1 passed");
  });

  it("closes the capture files it replaces: filterwarnings = error passes as under pytest", async () => {
    const dir = tempProject({
      "pytest.ini": "[pytest]\nfilterwarnings =\n    error\n",
      "test_quiet.py":
        "import gc\n\ndef test_one():\n    print('out')\n    gc.collect()\n\ndef test_two():\n    gc.collect()\n",
    });
    const k = await kiln(["-n", "2"], dir);
    expect(k.stdout + k.stderr).not.toContain("ResourceWarning");
    expect(k.code, k.stdout).toBe(0);
    expect(k.stdout).toContain("2 passed");
  });

  it("reports a module fixture's teardown error after -x, as pytest >= 8 does", async () => {
    const dir = tempProject({
      "pytest.ini": "[pytest]\n",
      "test_t.py": [
        "import pytest",
        "",
        "@pytest.fixture(scope='module')",
        "def res():",
        "    yield 1",
        "    raise RuntimeError('teardown boom')",
        "",
        "def test_a(res):",
        "    assert 0",
        "",
        "def test_b(res):",
        "    pass",
        "",
      ].join("\n"),
    });
    const k = await kiln(["-n", "1", "-x"], dir);
    expect(k.code).toBe(1);
    expect(k.stdout).toContain("ERROR at teardown of test_a");
    expect(k.stdout).toContain("RuntimeError: teardown boom");
    expect(k.stdout).toContain("1 failed, 1 error");
    if (version !== "7.2") {
      // pytest 7 aborts its session on this error with a bare traceback
      // (fixed in pytest 8, pytest#11706); Kiln reports it as pytest 8 does.
      const p = pytest(python, [...NO_CACHE, "-x"], dir);
      const errors = (out: string) => comparable(section(out, "= ERRORS =", "= FAILURES ="));
      expect(errors(k.stdout)).toBe(errors(p.stdout));
    }
  });
});

describe("a stop from elsewhere", () => {
  it("tears down the other worker's fixtures and reports their errors", async () => {
    // Three tests a file: a worker asks for more work only once it is down
    // to two queued tests, so each file goes to its own worker; test_f1
    // fails (-x) only once the other worker is inside test_s1.
    const dir = tempProject({
      "pytest.ini": "[pytest]\n",
      "test_fails.py": [
        "import os, time",
        "",
        "def test_f1():",
        "    marker = os.path.join(os.path.dirname(__file__), 's1-started')",
        "    deadline = time.time() + 30",
        "    while not os.path.exists(marker) and time.time() < deadline:",
        "        time.sleep(0.01)",
        "    assert 0",
        "",
        "def test_f2():",
        "    pass",
        "",
        "def test_f3():",
        "    pass",
        "",
      ].join("\n"),
      "test_slow.py": [
        "import time, pytest",
        "",
        "@pytest.fixture(scope='module')",
        "def res():",
        "    yield 1",
        "    raise RuntimeError('slow teardown boom')",
        "",
        "def test_s1(res):",
        "    open(__file__.replace('test_slow.py', 's1-started'), 'w').close()",
        "    time.sleep(1.5)",
        "",
        "def test_s2(res):",
        "    pass",
        "",
        "def test_s3(res):",
        "    pass",
        "",
      ].join("\n"),
    });
    const k = await runKiln(["test", "-n", "2", "-x", "-rA", ...NO_CACHE], { cwd: dir });
    expect(k.code).toBe(1);
    expect(k.stdout).toContain("FAILED test_fails.py::test_f1");
    expect(k.stdout).toContain("ERROR at teardown of test_s1");
    expect(k.stdout).toContain("RuntimeError: slow teardown boom");
    expect(k.stdout).not.toContain("test_s2");
  });
});
