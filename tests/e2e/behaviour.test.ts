// What a pytest user sees: failure text, crashes, timeouts, -s, -x, Ctrl-C,
// session fixtures per worker, recorded durations.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { project, pythonWithPytest, runKiln, runPytest } from "../helpers/kiln.js";
import { copyProject, tempDir } from "../helpers/temp.js";

/** The FAILURES section through the short summary, with volatile bits normalized. */
function failuresSection(output: string): string {
  const start = output.indexOf("= FAILURES =");
  const end = output.indexOf("short test summary info");
  return output
    .slice(start, end)
    .replace(/0x[0-9a-f]+/g, "0xADDR")
    .replace(/ in \d+\.\d+s/g, " in Ts");
}

function tempProject(files: Record<string, string>): string {
  const dir = tempDir("kiln-proj-");
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("kiln test behaves like pytest", () => {
  it("prints pytest's own rewritten-assert failure text", async () => {
    const args = ["-p", "no:cacheprovider", "test_math.py"];
    const dir = copyProject("basic");
    const kiln = await runKiln(["test", "-n", "1", ...args], { cwd: dir });
    const pytest = runPytest(args, dir);
    expect(kiln.code).toBe(1);
    expect(failuresSection(kiln.stdout)).toContain("assert 3 == 4");
    expect(failuresSection(kiln.stdout)).toBe(failuresSection(pytest.stdout));
  });

  it("fails a segfaulting and an os._exit test with the cause, and runs the rest", async () => {
    const r = await runKiln(["test", "-n", "2", "-p", "no:cacheprovider"], {
      cwd: copyProject("crashes"),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /crashed while running test_segfault\.py::test_segfault: killed by signal 11 \(SIGSEGV\)/,
    );
    expect(r.stdout).toMatch(
      /crashed while running test_exit\.py::test_os_exit: exited with status 3/,
    );
    expect(r.stdout).toMatch(/2 failed, 6 passed/);
  });

  it("fails a test that outlives --timeout with its Python stack; the group goes on", async () => {
    // Kiln's own watchdog: with pytest-timeout active (Debian ships it),
    // --timeout would be pytest-timeout's (tests/e2e/plugins.test.ts).
    const r = await runKiln(
      ["test", "-n", "1", "--timeout", "2", "-p", "no:cacheprovider", "-p", "no:timeout"],
      { cwd: copyProject("timeouts") },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Failed: Timeout >2s: test_loop.py::test_infinite_loop");
    expect(r.stdout).toContain("Python stack at the moment of the timeout (faulthandler)");
    expect(r.stdout).toMatch(/File ".*test_loop\.py", line \d+ in test_infinite_loop/);
    expect(r.stdout).toMatch(/1 failed, 4 passed/);
  });

  it("streams test output live with -s", async () => {
    // The test prints a mark, then waits until this side has seen it: it
    // passes only if the mark arrived while it was still running.
    const dir = tempProject({
      "test_live.py": [
        "import os, time",
        "",
        "def test_live():",
        "    print('LIVE-MARK', flush=True)",
        "    seen = os.path.join(os.path.dirname(__file__), 'seen')",
        "    deadline = time.time() + 30",
        "    while not os.path.exists(seen) and time.time() < deadline:",
        "        time.sleep(0.01)",
        "    assert os.path.exists(seen), 'the mark did not reach the terminal while the test ran'",
        "",
      ].join("\n"),
    });
    const r = await runKiln(["test", "-s", "-n", "1", "-p", "no:cacheprovider"], {
      cwd: dir,
      onSpawn: (child) =>
        child.stdout?.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("LIVE-MARK")) writeFileSync(join(dir, "seen"), "");
        }),
    });
    expect(r.code, r.stdout).toBe(0);
  });

  it("runs a session fixture once per worker, as xdist does", async () => {
    const log = join(tempDir("kiln-log-"), "setups.txt");
    const files: Record<string, string> = {
      "conftest.py": `import os, pytest\n\n@pytest.fixture(scope="session")\ndef once():\n    with open(${JSON.stringify(log)}, "a") as f:\n        f.write(f"{os.getpid()}\\n")\n`,
    };
    for (let i = 0; i < 6; i++) {
      files[`test_m${i}.py`] = "def test_a(once):\n    pass\n\ndef test_b(once):\n    pass\n";
    }
    const r = await runKiln(["test", "-n", "2", "-p", "no:cacheprovider"], {
      cwd: tempProject(files),
    });
    expect(r.code).toBe(0);
    const pids = readFileSync(log, "utf8").trim().split("\n");
    expect(new Set(pids).size).toBe(pids.length);
    expect(pids.length).toBeGreaterThanOrEqual(1);
    expect(pids.length).toBeLessThanOrEqual(2);
    expect(r.stdout).toMatch(/12 passed/);
  });

  it("stops at the first failure with -x and exits 1", async () => {
    const r = await runKiln(["test", "-n", "1", "-x", "-p", "no:cacheprovider"], {
      cwd: copyProject("basic"),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("stopping after 1 failures");
    expect(r.stdout).toMatch(/1 failed/);
  });

  it("exits 5 when nothing is collected", async () => {
    const r = await runKiln(["test", "-k", "nothing_matches_this"], { cwd: copyProject("demo") });
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/deselected/);
  });

  it("stops on Ctrl-C, prints what finished and exits 2", async () => {
    const r = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], {
      cwd: copyProject("timeouts"),
      onSpawn: (child) => {
        let sent = false;
        child.stdout?.on("data", (chunk: Buffer) => {
          // test_loop.py's loop starts after collection; interrupt it then.
          if (!sent && chunk.toString().includes("collected")) {
            sent = true;
            setTimeout(() => child.kill("SIGINT"), 1500);
          }
        });
      },
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("KeyboardInterrupt");
    expect(r.stdout).toMatch(/in \d+\.\d+s/);
  });

  it("records durations under .kiln/ for longest-first ordering", async () => {
    const dir = tempProject({ "test_one.py": "def test_one():\n    pass\n" });
    const r = await runKiln(["test", "-n", "2"], { cwd: dir });
    expect(r.code).toBe(0);
    const file = join(dir, ".kiln", "durations.json");
    expect(existsSync(file)).toBe(true);
    const recorded = JSON.parse(readFileSync(file, "utf8")) as {
      durations: Record<string, number>;
    };
    expect(Object.keys(recorded.durations)).toEqual(["test_one.py::test_one"]);
  });

  it("-n auto chooses the worker count from the recorded durations and says so", async () => {
    const slow =
      "import time\n\ndef test_1():\n    time.sleep(0.06)\n\ndef test_2():\n    time.sleep(0.06)\n";
    const dir = tempProject({ "test_a.py": slow, "test_b.py": slow });
    // A first run knows only the item count: 4 quick-looking tests, one worker,
    // and pytest's per-file progress lines, as with one process.
    const first = await runKiln(["test", "-p", "no:cacheprovider"], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("kiln: up to ");
    expect(first.stdout).toContain("kiln: -n auto: 1 worker (4 items, no recorded durations)");
    expect(first.stdout).toMatch(/^test_a\.py \.\. /m);
    // Now ~0.24 s are recorded: a second worker pays (where there are two cores).
    const second = await runKiln(["test", "-p", "no:cacheprovider"], { cwd: dir });
    expect(second.code).toBe(0);
    const expected = Math.min(2, availableParallelism());
    expect(second.stdout).toMatch(
      new RegExp(
        `kiln: -n auto: ${expected} workers? \\(4 items, ~0\\.\\d\\d s of tests expected from recorded durations`,
      ),
    );
    const manifest = JSON.parse(
      readFileSync(join(dir, ".kiln", "runs", "latest", "manifest.json"), "utf8"),
    ) as { workersStarted: number };
    expect(manifest.workersStarted).toBe(expected);
    // -q hides it with the header; an explicit -n never prints it.
    const quiet = await runKiln(["test", "-q", "-p", "no:cacheprovider"], { cwd: dir });
    expect(quiet.stdout).not.toContain("-n auto");
    const given = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(given.stdout).not.toContain("-n auto");
    expect(given.stdout).toContain("kiln: 1 worker forked from a zygote");
  });

  it("shows --durations and -r summaries from pytest's reporter, no colour off a TTY", async () => {
    const r = await runKiln(["test", "--durations", "3", "-rA", "-p", "no:cacheprovider"], {
      cwd: copyProject("demo"),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("slowest 3 durations");
    expect(r.stdout).toMatch(/PASSED tests\/test_cart\.py::test_adding_twice_accumulates/);
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("carries warnings from workers into pytest's warnings summary", async () => {
    const dir = tempProject({
      "test_w.py":
        'import warnings\n\ndef test_w():\n    warnings.warn("old thing", DeprecationWarning)\n\ndef test_u():\n    warnings.warn("user thing")\n',
    });
    const kiln = await runKiln(["test", "-q", "-n", "2", "-p", "no:cacheprovider"], { cwd: dir });
    const pytest = runPytest(["-q", "-p", "no:cacheprovider"], dir);
    const summary = (out: string) =>
      out.slice(out.indexOf("warnings summary"), out.indexOf("-- Docs")).split("\n\n").sort();
    expect(kiln.stdout).toMatch(/2 passed, 2 warnings/);
    expect(summary(kiln.stdout)).toEqual(summary(pytest.stdout));
  });

  it("counts a worker's warning once when a later test kills that worker", async () => {
    // The fresh worker that runs the rest must not send the dead one's
    // warnings again: pluggy replays a historic hook's calls to a plugin
    // registered later, and the zygote has recorded them by then.
    const dir = tempProject({
      "test_w.py":
        'import os, warnings\n\ndef test_w():\n    warnings.warn("careful")\n\ndef test_dies():\n    os._exit(3)\n\ndef test_after():\n    pass\n',
    });
    const kiln = await runKiln(["test", "-q", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(kiln.stdout).toMatch(/1 failed, 2 passed, 1 warning in/);
  });

  it("kiln doctor names the interpreter, its pytest and platform features", async () => {
    const r = await runKiln(["doctor"], { cwd: copyProject("demo") });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/interpreter: .*python3.* \(from \$KILN_PYTHON\) -> Python 3\.\d+/);
    expect(r.stdout).toMatch(/pytest: \d+\.\d+/);
    expect(r.stdout).toContain("landlock:");
  });

  it("kiln doctor flags a Python older than 3.9 as the zygote would, exit 4", async () => {
    const dir = tempDir("kiln-doctor-oldpy-");
    {
      // Stands in for an old interpreter: kiln_harness.boot's check judges it.
      const fake = join(dir, "python3.8");
      writeFileSync(
        fake,
        `#!/bin/sh\nexec ${pythonWithPytest()} -c "import sys; code = sys.argv[2]; sys.argv = ['-c'] + sys.argv[3:]; sys.version_info = (3, 8, 0); exec(code)" "$@"\n`,
      );
      chmodSync(fake, 0o755);
      const r = await runKiln(["doctor", "--python", fake], { cwd: project("demo") });
      expect(r.code).toBe(4);
      expect(r.stdout).toMatch(/-> Python 3\.\d+\.\d+ TOO OLD: Kiln needs Python >= 3\.9\n/);
    }
  });
});
