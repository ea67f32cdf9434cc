// `kiln watch` on a real pseudo-terminal (its keys, its status line) and on
// pipes (plain lines), on a copy of tests/fixtures/projects/watch: an edit
// reruns only the test file it affects, each key does what jest's does, and
// quitting in any way leaves no zygote or worker behind.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, pythonWithPytest } from "../helpers/kiln.js";
import { processesIn } from "../helpers/processes.js";
import { runOnPty } from "../helpers/pty.js";
import { copyProject } from "../helpers/temp.js";

const WATCH = [process.execPath, CLI, "watch", "-n", "1", "-v", "-p", "no:cacheprovider"];
const ENV = { KILN_PYTHON: pythonWithPytest() };
const RESULT = "kiln: watch: [^\\n]* in \\d+\\.\\d\\ds \\(";

/** Each run's output: the transcript cut at each run's result line. */
function runs(transcript: string): string[] {
  return transcript.split(/kiln: watch: [^\n\r]* in \d+\.\d\ds \([^\n]*\)\n/).slice(0, -1);
}

/** The tests a run's -v output shows as run. */
function ranTests(segment: string): string[] {
  return [...segment.matchAll(/(tests\/\S+::\S+) (PASSED|FAILED)/g)].map((m) => m[1] as string);
}

/** No process of the run left: waits a little for the kernel to reap them. */
async function expectNoProcessIn(dir: string): Promise<void> {
  const until = Date.now() + 5000;
  let left = processesIn(dir);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((done) => setTimeout(done, 100));
    left = processesIn(dir);
  }
  expect(left).toEqual([]);
}

describe("kiln watch on a terminal", () => {
  it("reruns what an edit affects, and a, f, p, t, Enter and q do what jest's keys do", async () => {
    const dir = copyProject("watch");
    const r = await runOnPty(
      WATCH,
      dir,
      [
        // The first run: everything.
        { expect: `${RESULT}all tests\\)`, write: { path: "lib/consts.py", text: "A = 2\n" } },
        // The edit: only tests/test_top.py, which now fails.
        { expect: `kiln: watch: 1 failed in [\\d.]+s \\(changed: lib/consts.py\\)`, send: "f" },
        // Failed only: the two failures of the last run.
        { expect: "kiln: watch: 1 failed in [\\d.]+s \\(failed only \\(1\\)\\)", send: "p" },
        { expect: "file name regex › ", send: "names\r" },
        { expect: "kiln: watch: 2 passed in [\\d.]+s \\(all tests; file ~ names\\)", send: "t" },
        { expect: "test name -k › ", send: "alpha\r" },
        {
          expect: "kiln: watch: 1 passed in [\\d.]+s \\(all tests; file ~ names, -k alpha\\)",
          send: "\r",
        },
        // Enter: the same again.
        {
          expect: "kiln: watch: 1 passed in [\\d.]+s \\(all tests; file ~ names, -k alpha\\)",
          send: "p",
        },
        // An empty pattern clears the filter.
        { expect: "file name regex › ", send: "\x7f\x7f\x7f\x7f\x7f\r" },
        { expect: "kiln: watch: 1 passed in [\\d.]+s \\(all tests; -k alpha\\)", send: "t" },
        { expect: "test name -k › ", send: "\x7f\x7f\x7f\x7f\x7f\r" },
        { expect: "kiln: watch: 2 failed, 3 passed in [\\d.]+s \\(all tests\\)", send: "a" },
        { expect: "kiln: watch: 2 failed, 3 passed in [\\d.]+s \\(all tests\\)", send: "q" },
      ],
      40,
      ENV,
    );
    expect(r.error).toBe(null);
    expect(r.exitCode).toBe(0);
    const segments = runs(r.transcript);
    const ran = segments.map(ranTests);
    expect(ran[0]).toEqual([
      "tests/test_broken.py::test_ok",
      "tests/test_broken.py::test_bad",
      "tests/test_names.py::test_alpha",
      "tests/test_names.py::test_beta",
      "tests/test_top.py::test_value",
    ]);
    // The edit reran only the file whose import closure holds lib/consts.py.
    expect(ran[1]).toEqual(["tests/test_top.py::test_value"]);
    expect(segments[1]).toContain("kiln: watch: 1 file changed, 1 of 3 test files selected");
    // f: the one test that failed in the last run.
    expect(ran[2]).toEqual(["tests/test_top.py::test_value"]);
    expect(ran[3]).toEqual(["tests/test_names.py::test_alpha", "tests/test_names.py::test_beta"]);
    expect(ran[4]).toEqual(["tests/test_names.py::test_alpha"]);
    expect(ran[5]).toEqual(["tests/test_names.py::test_alpha"]);
    expect(ran[6]).toEqual(["tests/test_names.py::test_alpha"]);
    expect(ran[7]).toHaveLength(5);
    expect(ran[8]).toHaveLength(5);
    expect(ran).toHaveLength(9);
    // The live line: running, the counts so far, the time.
    expect(r.transcript).toMatch(/kiln: watch: running \(all tests\) · [^\n]*\d+\.\ds/);
    expect(r.transcript).toContain("keys: a all, f failed, p file, t name, Enter rerun, q quit");
    await expectNoProcessIn(dir);
  }, 60_000);

  it("quits on Ctrl-C, and on SIGKILL mid-run or idle leaves no zygote or worker behind", async () => {
    const dir = copyProject("watch");
    const quit = await runOnPty(
      WATCH,
      dir,
      [{ expect: `${RESULT}all tests\\)`, send: "\x03" }],
      20,
      ENV,
    );
    expect(quit.error).toBe(null);
    expect(quit.exitCode).toBe(0);
    await expectNoProcessIn(dir);
    const killed = await runOnPty(
      WATCH,
      dir,
      // test_ok sleeps: the kill comes while it runs in a worker.
      [{ expect: "collected 5 items", delaySeconds: 1, signal: 9 }],
      20,
      { ...ENV, WATCH_SLOW: "30" },
    );
    expect(killed.signal).toBe(9);
    expect(killed.transcript).not.toContain("test_ok PASSED");
    await expectNoProcessIn(dir);
    // Idle, with the next run's zygote already started: it ends too (its
    // hello never comes).
    const idle = await runOnPty(
      WATCH,
      dir,
      [{ expect: `${RESULT}all tests\\)`, delaySeconds: 1, signal: 9 }],
      20,
      ENV,
    );
    expect(idle.signal).toBe(9);
    await expectNoProcessIn(dir);
  }, 60_000);
});

function spawnWatch(dir: string, env: NodeJS.ProcessEnv = {}) {
  return spawn(WATCH[0] as string, WATCH.slice(1), {
    cwd: dir,
    env: { ...process.env, ...ENV, PYTHONDONTWRITEBYTECODE: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

describe("kiln watch without a terminal", () => {
  it("prints plain lines, reruns on an edit, and quits on SIGTERM", async () => {
    const dir = copyProject("watch");
    const child = spawnWatch(dir);
    let out = "";
    const seen = (re: RegExp) =>
      new Promise<void>((done) => {
        const check = () => {
          if (!re.test(out)) return;
          child.stdout.off("data", check);
          done();
        };
        child.stdout.on("data", check);
        check();
      });
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    await seen(/kiln: watch: 1 failed, 4 passed in \d+\.\d\ds \(all tests\)\n/);
    writeFileSync(join(dir, "lib/consts.py"), "A = 3\n");
    await seen(/kiln: watch: 1 failed in \d+\.\d\ds \(changed: lib\/consts.py\)\n/);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain("(no terminal: no keys)");
    expect(out).toContain("kiln: watch: running (changed: lib/consts.py)\n");
    // Plain lines: nothing drawn in place.
    expect(out).not.toContain("\x1b[2K");
    expect(out).not.toContain("\r");
    await expectNoProcessIn(dir);
  }, 30_000);
});

describe("kiln watch stopped mid-run", () => {
  it("SIGTERM stops the run and leaves no zygote or worker behind", async () => {
    const dir = copyProject("watch");
    const child = spawnWatch(dir, { WATCH_SLOW: "30" });
    let out = "";
    const collected = new Promise<void>((done) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
        if (out.includes("collected 5 items")) done();
      });
    });
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    await collected;
    await new Promise((done) => setTimeout(done, 500));
    // The zygote and its worker, found the way expectNoProcessIn looks.
    expect(processesIn(dir).length).toBeGreaterThanOrEqual(2);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).not.toContain("test_ok PASSED");
    await expectNoProcessIn(dir);
  }, 30_000);
});
