// --ff, --nf, --lf (--lfnf), --sw (--sw-skip) under Kiln against plain pytest.
// Each scenario runs twice on two identical temp copies of one project, one
// with pytest and one with Kiln: the first run leaves failures (and node ids,
// durations) in .pytest_cache and .kiln, the second uses the cache option.
// What runs, in which order and with which outcome is compared.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pythonWithPytest, runKiln } from "../helpers/kiln.js";

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// Each test logs its node id as its setup starts (so the log is the run
// order, across workers too: O_APPEND writes of one line do not interleave),
// and errors in setup when its node id is listed in broken.txt.
const CONFTEST = `import os

import pytest


@pytest.fixture(autouse=True)
def _log_and_break(request):
    with open(os.environ["ORDER_LOG"], "a") as log:
        log.write(request.node.nodeid + "\\n")
    with open(os.path.join(os.path.dirname(__file__), "broken.txt")) as f:
        broken = f.read().split()
    assert request.node.nodeid not in broken, "listed in broken.txt"
`;

const slowTest = (name: string) => `def ${name}():\n    import time\n    time.sleep(0.4)\n`;
const FILES: Record<string, string> = {
  "test_a.py": "def test_1(): pass\ndef test_2(): pass\ndef test_3(): pass\n",
  "test_b.py": "def test_1(): pass\ndef test_2(): pass\n",
  "test_c.py": "def test_1(): pass\ndef test_2(): pass\n",
  "test_slow.py": `${slowTest("test_1")}${slowTest("test_2")}`,
};
const NEW_FILE = { "test_new.py": "def test_1(): pass\ndef test_2(): pass\n" };
// Distinct, fixed mtimes in both copies (--nf sorts files by mtime). test_slow.py
// is the oldest, so with --nf the longest group is the last one pytest runs.
const MTIME_AGE: Record<string, number> = {
  "test_slow.py": 60,
  "test_a.py": 50,
  "test_b.py": 40,
  "test_c.py": 30,
  "test_new.py": 10,
};

function writeProject(dir: string, files: Record<string, string>): void {
  const now = Math.floor(Date.now() / 1000);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    const age = MTIME_AGE[name];
    if (age !== undefined) utimesSync(join(dir, name), now - age, now - age);
  }
}

function makeProject(broken: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-cache-order-"));
  temps.push(dir);
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  writeFileSync(join(dir, "conftest.py"), CONFTEST);
  writeFileSync(join(dir, "broken.txt"), broken.join("\n"));
  writeProject(dir, FILES);
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  /** Node ids in the order their setup started. */
  order: string[];
  /** Kiln only: node ids in the order the supervisor handed them to workers. */
  dispatched: string[];
  /** "PASSED test_a.py::test_1", ... from -rA, sorted. */
  outcomes: string[];
}

function finish(dir: string, code: number | null, stdout: string, stderr = ""): Run {
  const log = join(dir, "order.log");
  const order = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  rmSync(log, { force: true });
  const outcomes = stdout
    .split("\n")
    .filter((line) => /^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) \S+::/.test(line))
    .map((line) => line.replace(/ - .*$/, ""))
    .sort();
  // KILN_DEBUG=1 traces every group the supervisor sends: "kwN <- work a b c".
  const dispatched = stderr
    .split("\n")
    .flatMap((line) => /^kiln debug \d+: kw\d+ <- work (.*)$/.exec(line)?.[1]?.split(" ") ?? []);
  return { code, stdout, order, outcomes, dispatched };
}

function pytest(python: string, dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(python, ["-m", "pytest", "-rA", ...args], {
    cwd: dir,
    env: {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: "1",
      ORDER_LOG: join(dir, "order.log"),
      ...env,
    },
    encoding: "utf8",
  });
  return finish(dir, r.status, r.stdout);
}

async function kiln(
  python: string,
  dir: string,
  workers: number,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Run> {
  const r = await runKiln(["test", "-n", String(workers), "-rA", ...args], {
    cwd: dir,
    env: { KILN_PYTHON: python, KILN_DEBUG: "1", ORDER_LOG: join(dir, "order.log"), ...env },
  });
  // xdist is installed next to every pytest here; -n is Kiln's, so xdist
  // must stay idle (it would print "created: N/N workers" and [gwN]).
  expect(r.stdout).not.toMatch(/\[gw\d+\]|created: \d+\/\d+ workers/);
  return finish(dir, r.code, r.stdout, r.stderr);
}

function lastStepwise(dir: string): string | null {
  const raw = JSON.parse(readFileSync(join(dir, ".pytest_cache/v/cache/stepwise"), "utf8")) as
    | string
    | null
    | { last_failed: string | null };
  // pytest < 8 stores the node id itself, later versions a record.
  return raw !== null && typeof raw === "object" ? raw.last_failed : raw;
}

const PYTHONS = [
  pythonWithPytest(),
  ...["/work/venvs/pytest-9.1/bin/python"].filter((p) => existsSync(p)),
];

describe.each(PYTHONS)("cache options under %s", (python) => {
  const broken = ["test_a.py::test_2", "test_c.py::test_1"];

  /** Both copies, first run done (Kiln's records durations too). */
  async function afterFirstRun(firstArgs: string[] = [], workers = 2) {
    const p = makeProject(broken);
    const k = makeProject(broken);
    const first = pytest(python, p, firstArgs);
    const kfirst = await kiln(python, k, workers, firstArgs);
    expect(kfirst.outcomes).toEqual(first.outcomes);
    return { p, k };
  }

  it("--ff with one worker runs pytest's exact order; with two, the failures go first", async () => {
    const { p, k } = await afterFirstRun();
    const expected = pytest(python, p, ["--ff"]);
    expect(expected.order.slice(0, 3)).toEqual([
      "test_a.py::test_2",
      "test_c.py::test_1",
      "test_a.py::test_1",
    ]);
    const one = await kiln(python, k, 1, ["--ff"]);
    expect(one.order).toEqual(expected.order);
    expect(one.outcomes).toEqual(expected.outcomes);
    expect(one.code).toBe(expected.code);
    // test_slow.py is by far the longest group on record; the failures are
    // still handed out first, in pytest's order, and the rest longest-first.
    const two = await kiln(python, k, 2, ["--ff"]);
    expect(two.dispatched.slice(0, 4)).toEqual([
      ...broken,
      "test_slow.py::test_1",
      "test_slow.py::test_2",
    ]);
    expect([...two.dispatched].sort()).toEqual([...expected.order].sort());
    expect(two.outcomes).toEqual(expected.outcomes);
    expect(two.code).toBe(expected.code);
  });

  it("--nf runs new tests first and keeps pytest's mtime order", async () => {
    const { p, k } = await afterFirstRun();
    writeProject(p, NEW_FILE);
    writeProject(k, NEW_FILE);
    const expected = pytest(python, p, ["--nf"]);
    expect(expected.order.slice(0, 2)).toEqual(["test_new.py::test_1", "test_new.py::test_2"]);
    expect(expected.order.at(-1)).toBe("test_slow.py::test_2");
    const one = await kiln(python, k, 1, ["--nf"]);
    expect(one.order).toEqual(expected.order);
    expect(one.outcomes).toEqual(expected.outcomes);
    // Several workers: handed out in exactly pytest's order, although
    // test_slow.py is the longest group on record.
    const two = await kiln(python, k, 2, ["--nf"]);
    expect(two.dispatched).toEqual(expected.order);
    expect(two.outcomes).toEqual(expected.outcomes);
  });

  it("--lf selects the previous failures; --lf --lfnf=none after a clean run selects nothing", async () => {
    const { p, k } = await afterFirstRun();
    const expected = pytest(python, p, ["--lf"]);
    expect(expected.order).toEqual(broken);
    for (const workers of [1, 2]) {
      const r = await kiln(python, k, workers, ["--lf"]);
      expect(r.outcomes).toEqual(expected.outcomes);
      expect(r.code).toBe(expected.code);
      if (workers === 1) expect(r.order).toEqual(expected.order);
      expect(r.stdout).toContain("run-last-failure: rerun previous 2 failures");
    }
    for (const dir of [p, k]) writeFileSync(join(dir, "broken.txt"), "");
    pytest(python, p, []);
    await kiln(python, k, 2, []);
    const none = pytest(python, p, ["--lf", "--lfnf=none"]);
    expect(none.code).toBe(5);
    const knone = await kiln(python, k, 2, ["--lf", "--lfnf=none"]);
    expect(knone.code).toBe(5);
    expect(knone.order).toEqual([]);
  });

  it("--sw with one worker stops and resumes exactly where pytest does", async () => {
    const { p, k } = await afterFirstRun(["--sw"], 1);
    expect(lastStepwise(k)).toBe("test_a.py::test_2");
    expect(lastStepwise(k)).toBe(lastStepwise(p));
    // Fix the first failure: the next run starts at it and stops at the next.
    for (const dir of [p, k]) writeFileSync(join(dir, "broken.txt"), "test_c.py::test_1");
    const expected = pytest(python, p, ["--sw"]);
    const one = await kiln(python, k, 1, ["--sw"]);
    expect(one.order).toEqual(expected.order);
    expect(one.outcomes).toEqual(expected.outcomes);
    expect(one.code).toBe(expected.code);
    expect(lastStepwise(k)).toBe("test_c.py::test_1");
    expect(lastStepwise(p)).toBe("test_c.py::test_1");
    // --sw-skip: past test_c.py::test_1, to the end.
    const skipExpected = pytest(python, p, ["--sw-skip"]);
    const skip = await kiln(python, k, 1, ["--sw-skip"]);
    expect(skip.order).toEqual(skipExpected.order);
    expect(skip.outcomes).toEqual(skipExpected.outcomes);
    expect(skip.code).toBe(skipExpected.code);
  });

  it("--sw with two workers never skips a test that has not passed", async () => {
    // test_b.py::test_1 fails at once on the second worker while the first is
    // still in test_a.py::test_1 (slowed down): the stop leaves test_a.py's
    // later tests unrun, before the failure in collection order.
    const k = makeProject(["test_a.py::test_1", "test_b.py::test_1"]);
    writeFileSync(join(k, "broken.txt"), "test_b.py::test_1");
    writeFileSync(
      join(k, "test_a.py"),
      "import time\ndef test_1(): time.sleep(0.6)\ndef test_2(): pass\ndef test_3(): pass\n",
    );
    const first = await kiln(python, k, 2, ["--sw"]);
    expect(first.code).toBe(2); // pytest's Interrupted: "Test failed, continuing from ..."
    const passed = new Set(
      first.outcomes.filter((o) => o.startsWith("PASSED ")).map((o) => o.slice(7)),
    );
    const collection = [
      "test_a.py::test_1",
      "test_a.py::test_2",
      "test_a.py::test_3",
      "test_b.py::test_1",
      "test_b.py::test_2",
      "test_c.py::test_1",
      "test_c.py::test_2",
      "test_slow.py::test_1",
      "test_slow.py::test_2",
    ];
    const resume = lastStepwise(k);
    expect(resume).not.toBeNull();
    // Everything the next run deselects has passed.
    const skipped = collection.slice(0, collection.indexOf(resume as string));
    for (const nodeid of skipped) expect(passed).toContain(nodeid);
    const second = await kiln(python, k, 2, ["--sw"]);
    // Handed out in collection order from where the last run left off (up
    // to the stop: the groups never handed out are not in the trace).
    const fromResume = collection.slice(collection.indexOf(resume as string));
    expect(second.dispatched[0]).toBe(resume);
    expect(second.dispatched).toEqual(fromResume.slice(0, second.dispatched.length));
    expect(second.order).toContain(resume);
    for (const nodeid of skipped) expect(second.order).not.toContain(nodeid);
  });
});
