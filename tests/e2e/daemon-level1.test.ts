// The daemon's level 1 (issue 11 item 2): a fork of level 0 holding the
// project's own modules. After each edit, a warm rerun gives the outcomes,
// failure text and exit code of a cold run: an edited constant in a module
// the tests import indirectly, an edited fixture in a conftest, an added test
// file, a deleted module, and edited data files (one a module reads when it
// is imported, one a test reads). Runs that may fork from level 1 do
// (its files still match); runs after an edit to a file level 1 read do not.
// Real processes: the daemon, level 1, kiln and pytest.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonTestKit, gone, level1Warm, normalized } from "../helpers/daemon.js";
import { processAlive } from "../helpers/processes.js";
import { tempDir } from "../helpers/temp.js";

const kit = daemonTestKit("level1");
const { kiln, recorded } = kit;

const FILES: Record<string, string> = {
  "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
  "pkg/__init__.py": "",
  "pkg/consts.py": "LIMIT = 3\n",
  // The tests import api, which imports consts: consts is imported indirectly.
  "pkg/api.py": [
    "import os",
    "from pkg.consts import LIMIT",
    "with open(os.path.join(os.path.dirname(__file__), 'greeting.txt')) as f:",
    "    GREETING = f.read().strip()",
    "try:",
    "    from pkg.extra import VALUE as EXTRA",
    "except ImportError:",
    "    EXTRA = 0",
    "def limit():",
    "    return LIMIT",
    "",
  ].join("\n"),
  "pkg/greeting.txt": "hello\n",
  "pkg/extra.py": "VALUE = 1\n",
  "data/expected.txt": "13\n",
  "tests/conftest.py": "import pytest\n@pytest.fixture\ndef base():\n    return 10\n",
  "tests/test_api.py": [
    "import os",
    "from pkg.api import limit, GREETING",
    "def test_limit(base):",
    "    assert limit() + base == 13",
    "def test_greeting():",
    "    assert GREETING == 'hello'",
    "def test_data_file(base):",
    "    here = os.path.dirname(__file__)",
    "    with open(os.path.join(here, '..', 'data', 'expected.txt')) as f:",
    "        assert int(f.read()) == limit() + base",
    "",
  ].join("\n"),
  "tests/test_extra.py": "from pkg.api import EXTRA\ndef test_extra():\n    assert EXTRA == 1\n",
};

function write(dir: string, path: string, text: string): void {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), text);
}

const FROM_LEVEL1 =
  /kiln: zygote from the daemon \(pid \d+, level 0 pid \d+ .*; level 1: \d+ project modules held\)/;

describe("kiln daemon level 1", () => {
  it("a warm rerun after each edit gives a cold run's results", async () => {
    const dir = tempDir("kiln-level1-project-");
    for (const [path, text] of Object.entries(FILES)) write(dir, path, text);
    // A cold run teaches the daemon the project's modules.
    await recorded(["--no-daemon"], dir);
    const started = await kiln(["daemon", "start"], dir);
    expect(started.code, started.stderr).toBe(0);
    const pid = Number(/\(pid (\d+),/.exec(started.stdout)?.[1]);
    kit.track(pid);
    const line = await level1Warm(kit, dir);
    expect(line).toMatch(/level 1 {5}pid \d+, RSS [\d.]+ MiB, warm, 4 project modules held/);

    // [edit, whether level 1 may still serve the run after it]
    const steps: [string, () => void, boolean][] = [
      ["nothing", () => {}, true],
      [
        "an edited fixture in a conftest",
        () =>
          write(dir, "tests/conftest.py", String(FILES["tests/conftest.py"]).replace("10", "11")),
        true,
      ],
      [
        "an added test file",
        () =>
          write(
            dir,
            "tests/test_new.py",
            "from pkg.consts import LIMIT\ndef test_new():\n    assert LIMIT == 3\n",
          ),
        true,
      ],
      ["an edited data file a test reads", () => write(dir, "data/expected.txt", "14\n"), true],
      [
        "an edited constant in a module imported indirectly",
        () => write(dir, "pkg/consts.py", "LIMIT = 4\n"),
        false,
      ],
      [
        "an edited data file a module reads at import",
        () => write(dir, "pkg/greeting.txt", "bye\n"),
        false,
      ],
      ["a deleted module", () => rmSync(join(dir, "pkg/extra.py")), false],
    ];
    for (const [what, edit, level1] of steps) {
      edit();
      const warm = await recorded([], dir);
      const cold = await recorded(["--no-daemon"], dir);
      expect(warm.result.stderr, what).not.toContain("daemon not used");
      if (level1) expect(warm.result.stdout, what).toMatch(FROM_LEVEL1);
      else expect(warm.result.stdout, what).not.toMatch(FROM_LEVEL1);
      expect(warm.result.code, what).toBe(cold.result.code);
      expect(warm.outcomes.outcomes, what).toEqual(cold.outcomes.outcomes);
      const text = (failures: unknown) =>
        JSON.stringify(failures).replace(/0x[0-9a-f]+/g, "0xADDR");
      expect(text(warm.outcomes.failures), what).toBe(text(cold.outcomes.failures));
      expect(normalized(warm.result.stdout), what).toBe(normalized(cold.result.stdout));
      // Level 1 is rebuilt from level 0 once that run is over.
      await level1Warm(kit, dir);
    }
    // The edits changed outcomes (so each comparison above compared something).
    const last = await recorded(["--no-daemon"], dir);
    expect(last.result.code).toBe(1);
    expect(Object.keys(last.outcomes.failures).sort()).toEqual([
      "tests/test_api.py::test_data_file",
      "tests/test_api.py::test_greeting",
      "tests/test_api.py::test_limit",
      "tests/test_extra.py::test_extra",
      "tests/test_new.py::test_new",
    ]);
    // `stop` ends level 1 with the daemon.
    const level1Pid = Number(/level 1 +pid (\d+)/.exec(await level1Warm(kit, dir))?.[1]);
    expect(processAlive(level1Pid)).toBe(true);
    await kiln(["daemon", "stop"], dir);
    expect(processAlive(pid)).toBe(false);
    expect(await gone(level1Pid)).toBe(true);
    // SIGKILL of the daemon ends level 1 too (PR_SET_PDEATHSIG).
    const again = await kiln(["daemon", "start"], dir);
    const pid2 = Number(/\(pid (\d+),/.exec(again.stdout)?.[1]);
    kit.track(pid2);
    const level1Pid2 = Number(/level 1 +pid (\d+)/.exec(await level1Warm(kit, dir))?.[1]);
    process.kill(pid2, "SIGKILL");
    expect(await gone(pid2)).toBe(true);
    expect(await gone(level1Pid2)).toBe(true);
  });
});
