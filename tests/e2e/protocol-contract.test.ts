// The contract between the two languages: real runs make the Python side send
// every message it can send, with KILN_PROTOCOL_CHECK=1 (each Python channel
// checks what it sends and receives against the shared table) and
// KILN_DEBUG=1 (the supervisor traces what it received, after checking it
// against schema.ts). Every message type must be seen, and nothing refused.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DIRECTIONS } from "../../src/protocol/schema.js";
import { type KilnResult, runKiln } from "../helpers/kiln.js";
import { pythonFor } from "../helpers/pythons.js";
import { tempDir } from "../helpers/temp.js";

const ENV = { KILN_PROTOCOL_CHECK: "1", KILN_DEBUG: "1" };

function typesOf(direction: "zygoteToSupervisor" | "workerToSupervisor"): string[] {
  return DIRECTIONS[direction].options.map((option) => option.shape.type.value).sort();
}

function project(files: Record<string, string>): string {
  const dir = tempDir("kiln-contract-");
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** The message types the supervisor received, by peer kind. */
function received(results: KilnResult[]): { zygote: Set<string>; worker: Set<string> } {
  const zygote = new Set<string>();
  const worker = new Set<string>();
  for (const r of results) {
    for (const line of r.stderr.split("\n")) {
      const m = /^kiln debug \d+: (zygote|kw\d+) -> (\{.*\}|[a-z:-]+)$/.exec(line);
      if (!m) continue;
      const text = m[2] as string;
      const type = text.startsWith("{") ? (JSON.parse(text) as { type: string }).type : text;
      (m[1] === "zygote" ? zygote : worker).add(type);
    }
  }
  return { zygote, worker };
}

function clean(r: KilnResult): void {
  expect(r.stderr).not.toContain("does not match the message table");
  expect(r.stderr).not.toMatch(/protocol error/i);
  expect(r.stderr).not.toContain("bad or missing");
}

describe("every message Python sends matches the one schema", () => {
  it.each(["7.2", "9.1"] as const)(
    "under pytest %s",
    async (version) => {
      const python = pythonFor(version);
      const run = (dir: string, args: string[], cwd = dir) =>
        runKiln(["test", "--python", python, "-p", "no:cacheprovider", ...args], {
          cwd,
          env: ENV,
        });
      const suite = project({
        "test_a.py": [
          "import warnings",
          "import pytest",
          "",
          "@pytest.mark.parametrize('i', range(6))",
          "def test_pass(i):",
          "    print('out', i)",
          "",
          "def test_warns():",
          "    warnings.warn(UserWarning('careful'))",
          "",
          "def test_skip():",
          "    pytest.skip('not today')",
          "",
          "@pytest.mark.xfail(reason='known')",
          "def test_xfail():",
          "    assert 0",
          "",
        ].join("\n"),
        "test_b.py": "def test_fails():\n    assert 1 == 2\n",
        "test_c.py": "import pytest\n\ndef test_exit():\n    pytest.exit('enough', returncode=3)\n",
      });
      const results: KilnResult[] = [];
      // Workers, reports, warnings, the registry's stats.
      results.push(await run(suite, ["-n", "2", "test_a.py"]));
      // --shard: shard:items and its answer.
      results.push(await run(suite, ["-n", "1", "--shard", "1/2", "test_a.py"]));
      // -x's stop, in its own run: it may stop before another file's warning.
      results.push(await run(suite, ["-n", "2", "-x", "test_b.py", "test_a.py"]));
      // The debugger (no terminal: pdb reads EOF at its prompt).
      results.push(await run(suite, ["--pdb", "test_b.py"]));
      // pytest.exit() in a worker ends the session.
      results.push(await run(suite, ["-n", "1", "test_c.py"]));
      // pytest's rootdir differs from the one the registry was prepared for
      // (registry-rootdir.test.ts explains the layout: a -p plugin moves it).
      const mismatch = project({
        "proj/moveroot.py":
          "import pathlib, pytest\n\n@pytest.hookimpl(tryfirst=True)\n" +
          "def pytest_load_initial_conftests(early_config):\n" +
          "    early_config._rootpath = pathlib.Path(__file__).parent\n",
        "proj/tests/test_m.py": "def test_m():\n    pass\n",
      });
      results.push(
        await runKiln(["test", "--python", python, "-p", "no:cacheprovider", "-p", "moveroot"], {
          cwd: join(mismatch, "proj/tests"),
          env: { ...ENV, PYTHONPATH: join(mismatch, "proj") },
        }),
      );
      // An interpreter whose pytest cannot be imported: the zygote refuses.
      const broken = project({ "shadow/pytest.py": "raise ImportError('no pytest here')\n" });
      results.push(
        await runKiln(["test", "--python", python], {
          cwd: broken,
          env: { ...ENV, PYTHONPATH: join(broken, "shadow") },
        }),
      );

      for (const r of results) clean(r);
      // --pdb without a terminal: pdb reads EOF and quits the session, status 2, as in pytest.
      expect(results.map((r) => r.code)).toEqual([0, 0, 1, 2, 3, 0, 4]);
      const got = received(results);
      expect([...got.zygote].sort()).toEqual(typesOf("zygoteToSupervisor"));
      expect([...got.worker].sort()).toEqual(typesOf("workerToSupervisor"));
    },
    120_000,
  );
});
