// Held collections (issue 11 item 2, python/kiln_harness/held.py): a run
// through the daemon with the same inputs as an earlier one forks from that
// run's configured and collected state. Its output, outcomes, failure text
// and exit code are a cold run's (and plain pytest's summary); any edit to a
// file configuration or collection read (a test module, an added or deleted
// test file, a conftest fixture, the ini, a data file read at collection),
// another argv (-k, -x) or a changed .pytest_cache for --lf makes the run
// collect again. Real processes: the daemon, level 1, held collections, kiln
// and pytest. Under the interpreter of KILN_TEST_PYTHON (7.2 by default).
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonTestKit, gone, level1Warm, normalized } from "../helpers/daemon.js";
import { CLI, runPytest } from "../helpers/kiln.js";
import { childrenOf, processAlive } from "../helpers/processes.js";
import { kilnOnPty } from "../helpers/pty.js";
import { tempDir } from "../helpers/temp.js";

const kit = daemonTestKit("held");
const { kiln, recorded } = kit;

const FILES: Record<string, string> = {
  "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
  "pkg/__init__.py": "",
  "pkg/api.py": "def double(n):\n    return 2 * n\n",
  "data/params.json": "[1, 2, 3]\n",
  "data/expected.txt": "4\n",
  "tests/conftest.py": "import pytest\n@pytest.fixture\ndef base():\n    return 10\n",
  // The parameters come from a data file read when pytest imports the module.
  "tests/test_api.py": [
    "import json, os",
    "import pytest",
    "from pkg.api import double",
    "HERE = os.path.dirname(__file__)",
    "with open(os.path.join(HERE, '..', 'data', 'params.json')) as f:",
    "    PARAMS = json.load(f)",
    "@pytest.mark.parametrize('n', PARAMS)",
    "def test_double(n, base):",
    "    assert double(n) + base < 15",
    "def test_data_file():",
    "    with open(os.path.join(HERE, '..', 'data', 'expected.txt')) as f:",
    "        assert int(f.read()) == double(2)",
    "def check_extra():",
    "    assert False, 'collected only with python_functions = check_*'",
    "",
  ].join("\n"),
  "tests/test_other.py": "def test_other():\n    assert True\n",
};

function write(dir: string, path: string, text: string): void {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), text);
}

const HELD =
  /kiln: zygote from the daemon \(pid \d+, .*; collection held: \d+ items, not configured/;

async function sameAsCold(args: string[], dir: string, what: string, held: boolean) {
  const warm = await recorded(args, dir);
  const cold = await recorded(["--no-daemon", ...args], dir);
  expect(warm.result.stderr, what).not.toContain("daemon not used");
  if (held) expect(warm.result.stdout, what).toMatch(HELD);
  else expect(warm.result.stdout, what).not.toMatch(HELD);
  expect(warm.result.code, what).toBe(cold.result.code);
  expect(warm.outcomes.outcomes, what).toEqual(cold.outcomes.outcomes);
  const text = (failures: unknown) => JSON.stringify(failures).replace(/0x[0-9a-f]+/g, "0xADDR");
  expect(text(warm.outcomes.failures), what).toBe(text(cold.outcomes.failures));
  expect(normalized(warm.result.stdout), what).toBe(normalized(cold.result.stdout));
  return warm;
}

/** Warm runs until one holds its collection (level 0 may rebuild once after learning). */
async function warmUp(args: string[], dir: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const run = await recorded(args, dir);
    expect(run.result.stderr).not.toContain("daemon not used");
    if (HELD.test(run.result.stdout)) return;
  }
  throw new Error("no run was forked from a held collection");
}

describe("kiln daemon: held collections", () => {
  it("reuses a collection only while every input matches, with a cold run's results", async () => {
    const dir = tempDir("kiln-held-project-");
    for (const [path, text] of Object.entries(FILES)) write(dir, path, text);
    await recorded(["--no-daemon"], dir);
    const pid = await kit.startDaemon(dir);
    await level1Warm(kit, dir);
    await warmUp([], dir);

    // An identical run forks from the held collection; its summary is plain pytest's too.
    const first = await sameAsCold([], dir, "an identical run", true);
    const plain = runPytest(["-p", "no:cacheprovider"], dir);
    const summary = (out: string) =>
      (out.trim().split("\n").at(-1) ?? "").replace(/ in [\d.]+s/, " in Ns");
    expect(summary(first.result.stdout)).toBe(summary(plain.stdout));
    expect(first.result.code).toBe(plain.code);

    // [edit]: the run after it collects again, the one after that is held again.
    const steps: [string, () => void][] = [
      [
        "an edited test module",
        () =>
          write(
            dir,
            "tests/test_other.py",
            "def test_other():\n    assert False\ndef test_more():\n    pass\n",
          ),
      ],
      ["an added test file", () => write(dir, "tests/test_new.py", "def test_new():\n    pass\n")],
      ["a deleted test file", () => rmSync(join(dir, "tests/test_new.py"))],
      [
        "an edited conftest fixture",
        () =>
          write(dir, "tests/conftest.py", String(FILES["tests/conftest.py"]).replace("10", "12")),
      ],
      [
        "an edited ini",
        () =>
          write(
            dir,
            "pyproject.toml",
            `${FILES["pyproject.toml"]}python_functions = ["test_*", "check_*"]\n`,
          ),
      ],
      ["an edited data file read at collection", () => write(dir, "data/params.json", "[1, 5]\n")],
      // Held by level 1 too: level 1 is rebuilt and the held collections go with it.
      [
        "an edited project module",
        () => write(dir, "pkg/api.py", "def double(n):\n    return n + n + 0\n"),
      ],
    ];
    for (const [what, edit] of steps) {
      edit();
      await sameAsCold([], dir, what, false);
      // Its record may teach level 0 more and rebuild the tree: until held again.
      await warmUp([], dir);
      await sameAsCold([], dir, `${what}, then no edit`, true);
    }
    // The edits changed outcomes (each comparison above compared something).
    const last = await recorded(["--no-daemon"], dir);
    expect(Object.keys(last.outcomes.failures).sort()).toEqual([
      "tests/test_api.py::check_extra",
      "tests/test_api.py::test_double[5]",
      "tests/test_other.py::test_other",
    ]);

    // Another argv is another key: -k and -x runs are never forked from the default one's.
    await sameAsCold(["-k", "double"], dir, "-k after the default run", false);
    await sameAsCold(["-x"], dir, "-x after the -k run", false);
    await warmUp(["-x"], dir);
    await sameAsCold(["-x"], dir, "-x again", true);

    // `stop` and SIGKILL leave no held collection behind.
    const children = childrenOf(pid);
    expect(children.length).toBeGreaterThanOrEqual(2); // level 1 and held collections
    // `kiln daemon status` lists the held collections (the default run's, -k's and -x's).
    const status = await kiln(["daemon", "status"], dir);
    const listed = [
      ...status.stdout.matchAll(/collected +pid (\d+), RSS [\d.]+ MiB, (\d+) items/g),
    ];
    expect(listed.length, status.stdout).toBe(3);
    for (const [, held] of listed) expect(children).toContain(Number(held));
    await kiln(["daemon", "stop"], dir);
    for (const child of children) expect(await gone(child), `pid ${child}`).toBe(true);
    const pid2 = await kit.startDaemon(dir);
    await level1Warm(kit, dir);
    await warmUp([], dir);
    // A held collection that died: the run collects, as a cold run, without a word.
    const alive = await kiln(["daemon", "status"], dir);
    const heldPids = [...alive.stdout.matchAll(/collected +pid (\d+)/g)].map((m) => Number(m[1]));
    expect(heldPids.length, alive.stdout).toBeGreaterThanOrEqual(1);
    for (const held of heldPids) process.kill(held, "SIGKILL");
    for (const held of heldPids) expect(await gone(held)).toBe(true);
    await sameAsCold([], dir, "after its held collection was killed", false);
    await warmUp([], dir);
    const children2 = childrenOf(pid2);
    expect(children2.length).toBeGreaterThanOrEqual(2);
    process.kill(pid2, "SIGKILL");
    for (const child of children2) expect(await gone(child), `pid ${child}`).toBe(true);
    expect(processAlive(pid2)).toBe(false);
  }, 300_000);

  it("--lf: a run that changed lastfailed is not followed by a stale held collection", async () => {
    const dir = tempDir("kiln-held-lf-");
    for (const [path, text] of Object.entries(FILES)) write(dir, path, text);
    write(dir, "data/expected.txt", "5\n"); // test_data_file fails
    await recorded(["--no-daemon"], dir); // lastfailed: test_double[3], test_data_file
    await kit.startDaemon(dir);
    await level1Warm(kit, dir);
    await warmUp(["--lf"], dir);
    // The held --lf collection still matches (.pytest_cache unchanged).
    const held = await sameAsCold(["--lf"], dir, "--lf, lastfailed unchanged", true);
    expect(Object.keys(held.outcomes.outcomes).sort()).toEqual([
      "tests/test_api.py::test_data_file",
      "tests/test_api.py::test_double[3]",
    ]);
    // Fixed (a file read only by the test): the held collection is still valid
    // for this run, which then removes test_data_file from lastfailed.
    write(dir, "data/expected.txt", "4\n");
    const fixing = await recorded(["--lf"], dir);
    expect(fixing.result.stdout).toMatch(HELD);
    expect(fixing.outcomes.outcomes["tests/test_api.py::test_data_file"]).toBe("passed");
    // The next --lf run reads the new lastfailed: collected again, one test.
    const after = await sameAsCold(["--lf"], dir, "--lf after lastfailed changed", false);
    expect(Object.keys(after.outcomes.outcomes)).toEqual(["tests/test_api.py::test_double[3]"]);
  }, 120_000);

  it("on a terminal: the held run's header, progress and summary are a cold run's", async () => {
    const dir = tempDir("kiln-held-pty-");
    for (const [path, text] of Object.entries(FILES)) write(dir, path, text);
    // The environment kilnOnPty gives kiln: the daemon must have the same.
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", TERM: "xterm" };
    const daemon = (args: string[]) =>
      spawnSync(process.execPath, [CLI, "daemon", ...args, "--python", kit.python], {
        cwd: dir,
        env,
        encoding: "utf8",
      });
    const args = ["--python", kit.python, "-n", "1"];
    await kilnOnPty([...args, "--no-daemon"], dir, []);
    const started = daemon(["start"]);
    expect(started.status, started.stderr).toBe(0);
    kit.track(Number(/\(pid (\d+),/.exec(started.stdout)?.[1]));
    let held = null as Awaited<ReturnType<typeof kilnOnPty>> | null;
    for (let i = 0; i < 5 && held === null; i++) {
      const r = await kilnOnPty(args, dir, []);
      expect(r.error, r.transcript).toBeNull();
      if (HELD.test(r.transcript)) held = r;
    }
    expect(held, "no run on the terminal was forked from a held collection").not.toBeNull();
    const cold = await kilnOnPty([...args, "--no-daemon"], dir, []);
    expect(held?.exitCode).toBe(cold.exitCode);
    expect(normalized(held?.transcript ?? "")).toBe(normalized(cold.transcript));
    expect(held?.transcript).toMatch(/collected 5 items/);
    spawnSync(process.execPath, [CLI, "daemon", "stop"], { cwd: dir, env });
  }, 120_000);
});
