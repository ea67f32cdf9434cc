// `kiln test --changed/--affected-by` and `kiln why`, end to end on a
// generated git project (tests/helpers/affected-project.ts).
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commitAll, gitProject } from "../helpers/affected-project.js";
import { runKiln, runKilnRecorded } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

const ALL = [
  "tests/test_base.py::test_base",
  "tests/test_data.py::test_load",
  "tests/test_plugins.py::test_plugin",
  "tests/unit/test_consts.py::test_b",
  "tests/unit/test_top.py::test_value",
];

/**
 * The generated project in a git repository. `recorded`: after a first full
 * run, as a project is after its first `kiln test` (test_plugins imports a
 * computed name: until a run recorded what, it runs on any Python change).
 */
async function project(recorded = true): Promise<string> {
  const dir = tempDir("kiln-affected-");
  gitProject(dir);
  if (recorded) {
    const first = await runKiln(["test", "-q"], { cwd: dir });
    if (first.code !== 0) throw new Error(`the first run failed:\n${first.stdout}`);
  }
  return dir;
}

/** `kiln test ARGS` (args[0] is "test"), with the node ids that ran and their outcomes. */
async function ran(dir: string, args: string[]) {
  if (args[0] !== "test") throw new Error("ran() runs kiln test");
  const { result, recorded } = await runKilnRecorded([...args.slice(1), "-n", "1"], { cwd: dir });
  return { result, nodeids: Object.keys(recorded.outcomes).sort(), outcomes: recorded.outcomes };
}

describe("kiln test --changed", () => {
  it("runs only the test files whose imports reach the edit, and says so in the header", async () => {
    const dir = await project();
    writeFileSync(join(dir, "lib/consts.py"), "A = 1\nB = 3\n");
    const { result, nodeids, outcomes } = await ran(dir, ["test", "--changed"]);
    expect(result.stdout).toContain(
      "kiln: --changed HEAD: 1 file changed, 2 of 5 test files selected",
    );
    // consts is imported by test_consts directly and by test_top through top -> mid.
    expect(nodeids).toEqual([
      "tests/unit/test_consts.py::test_b",
      "tests/unit/test_top.py::test_value",
    ]);
    expect(outcomes["tests/unit/test_consts.py::test_b"]).toBe("failed");
    expect(result.code).toBe(1);
  });

  it("counts untracked and deleted files; a deleted module selects its importers", async () => {
    const dir = await project();
    rmSync(join(dir, "lib/mid.py"));
    writeFileSync(join(dir, "tests/test_new.py"), "def test_new():\n    pass\n");
    const { result, nodeids } = await ran(dir, [
      "test",
      "--changed",
      "--continue-on-collection-errors",
    ]);
    expect(result.stdout).toContain("2 files changed, 2 of 6 test files selected");
    // test_top now fails to collect (its file is the collection error's node id).
    expect(nodeids).toEqual(["tests/test_new.py::test_new", "tests/unit/test_top.py"]);
  });

  it("a deleted submodule selects `from package import submodule` importers", async () => {
    const dir = await project();
    rmSync(join(dir, "lib/consts.py"));
    // lib/mid.py: `from lib import consts`, imported by lib/top.py.
    const { nodeids } = await ran(dir, ["test", "--changed", "--continue-on-collection-errors"]);
    expect(nodeids).toEqual(["tests/unit/test_consts.py", "tests/unit/test_top.py"]);
  });

  it("compares with the ref given, and rejects a ref that is no commit (exit 4)", async () => {
    const dir = await project(false);
    writeFileSync(join(dir, "lib/plugins/p0.py"), "VALUE = 4\n");
    commitAll(dir);
    expect((await runKiln(["test", "--changed"], { cwd: dir })).stdout).toContain("nothing to run");
    // No test file imports lib.plugins.p0 statically; test_plugins imports a
    // computed name and has no recorded run yet, so it runs.
    const older = await ran(dir, ["test", "--changed", "HEAD~1"]);
    expect(older.result.stdout).toContain(
      "--changed HEAD~1: 1 file changed, 1 of 5 test files selected",
    );
    expect(older.nodeids).toEqual(["tests/test_plugins.py::test_plugin"]);
    writeFileSync(
      join(dir, "lib/top.py"),
      "from lib.mid import a\n\n\ndef value():\n    return 10\n",
    );
    commitAll(dir);
    // test_plugins ran in the HEAD~1 run, which recorded that it imports p0.
    const { nodeids } = await ran(dir, ["test", "--changed", "HEAD~2"]);
    expect(nodeids).toEqual([
      "tests/test_plugins.py::test_plugin",
      "tests/unit/test_top.py::test_value",
    ]);
    const bad = await runKiln(["test", "--changed", "no-such-ref"], { cwd: dir });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("--changed no-such-ref: not a commit");
  });

  it("with nothing affected, says so and exits 0 without running pytest", async () => {
    const dir = await project();
    const r = await runKiln(["test", "--changed"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "kiln: --changed HEAD: 0 files changed, 0 of 5 test files selected; nothing to run\n",
    );
  });

  it("a non-Python file runs everything; watch-ignore and watch-trigger narrow that", async () => {
    const dir = await project();
    writeFileSync(join(dir, "notes.txt"), "todo\n");
    const all = await ran(dir, ["test", "--changed"]);
    expect(all.result.stdout).toContain("all 5 test files selected (notes.txt: not a Python file)");
    expect(all.nodeids).toEqual(ALL);
    rmSync(join(dir, "notes.txt"));
    appendFileSync(join(dir, "docs/index.md"), "more\n");
    const ignored = await runKiln(["test", "--changed"], { cwd: dir });
    expect(ignored.stdout).toContain("1 file changed (1 ignored by watch-ignore), 0 of 5");
    expect(ignored.code).toBe(0);
    writeFileSync(join(dir, "data/values.txt"), "6\n");
    const triggered = await ran(dir, ["test", "--changed"]);
    expect(triggered.nodeids).toEqual(["tests/test_data.py::test_load"]);
    expect(triggered.outcomes["tests/test_data.py::test_load"]).toBe("failed");
  });

  it("a conftest change selects the test files below it, and a pytest config change all", async () => {
    const dir = await project();
    const conftest = await ran(dir, ["test", "--affected-by", "tests/unit/conftest.py"]);
    expect(conftest.nodeids).toEqual([
      "tests/unit/test_consts.py::test_b",
      "tests/unit/test_top.py::test_value",
    ]);
    const root = await ran(dir, ["test", "--affected-by", "tests/conftest.py"]);
    expect(root.nodeids).toEqual(ALL);
    const config = await ran(dir, ["test", "--affected-by", "pyproject.toml"]);
    expect(config.result.stdout).toContain("pyproject.toml: pytest or dependency configuration");
    expect(config.nodeids).toEqual(ALL);
  });

  it("keeps pytest's own selection: paths and -k narrow the affected files further", async () => {
    const dir = await project();
    const r = await ran(dir, ["test", "--affected-by", "lib/consts.py", "tests/unit/test_top.py"]);
    expect(r.nodeids).toEqual(["tests/unit/test_top.py::test_value"]);
    const k = await ran(dir, ["test", "--affected-by", "lib/consts.py", "-k", "test_b"]);
    expect(k.nodeids).toEqual(["tests/unit/test_consts.py::test_b"]);
  });
});

describe("recorded imports", () => {
  it("a full run records what test files imported under computed names", async () => {
    const dir = await project(false);
    // Before any run, test_plugins' import_module('lib.plugins.' + ...) could be
    // anything: it runs on any Python change (when in doubt, select more).
    const unrelated = await ran(dir, ["test", "--affected-by", "lib/data.py"]);
    expect(unrelated.nodeids).toEqual([
      "tests/test_data.py::test_load",
      "tests/test_plugins.py::test_plugin",
    ]);
    const full = await ran(dir, ["test"]);
    expect(full.nodeids).toEqual(ALL);
    const store = JSON.parse(readFileSync(join(dir, ".kiln/imports.json"), "utf8")) as {
      files: Record<string, string[]>;
    };
    // Imported inside the test, in a worker: recorded by the worker.
    expect(store.files["tests/test_plugins.py"]).toContain("lib/plugins/p0.py");
    const after = await ran(dir, ["test", "--affected-by", "lib/plugins/p0.py"]);
    expect(after.nodeids).toEqual(["tests/test_plugins.py::test_plugin"]);
    // Recorded: an unrelated edit no longer selects it.
    const unrelatedAfter = await ran(dir, ["test", "--affected-by", "lib/data.py"]);
    expect(unrelatedAfter.nodeids).toEqual(["tests/test_data.py::test_load"]);
    const why = await runKiln(
      ["why", "tests/test_plugins.py::test_plugin", "--affected-by", "lib/plugins/p0.py"],
      { cwd: dir },
    );
    expect(why.stdout).toContain(
      "tests/test_plugins.py -> imported at run time lib/plugins/p0.py (changed)",
    );
  });
});

describe("recorded imports at collection", () => {
  it("the zygote records a computed import at a test module's top level", async () => {
    const dir = await project();
    writeFileSync(join(dir, "lib/extra.py"), "X = 1\n");
    writeFileSync(
      join(dir, "tests/test_extra.py"),
      "import importlib\n\nextra = importlib.import_module('lib.' + 'extra')\n\n\n" +
        "def test_x():\n    assert extra.X == 1\n",
    );
    commitAll(dir);
    await ran(dir, ["test"]);
    const records = readFileSync(join(dir, ".kiln/runs/latest/imports.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map(
        (line) => JSON.parse(line) as { test: string; workerId: number | null; files: string[] },
      );
    expect(records).toContainEqual(
      expect.objectContaining({
        test: "tests/test_extra.py",
        workerId: null,
        files: ["lib/extra.py"],
      }),
    );
    writeFileSync(join(dir, "lib/extra.py"), "X = 2\n");
    const after = await ran(dir, ["test", "--changed"]);
    expect(after.nodeids).toEqual(["tests/test_extra.py::test_x"]);
    expect(after.outcomes["tests/test_extra.py::test_x"]).toBe("failed");
  });
});

describe("prepend import mode", () => {
  it("a module imported by its basename from a test directory selects its importers", async () => {
    // No recorded run: the static graph alone must know `helpers` is tests/helpers.py.
    const dir = await project(false);
    writeFileSync(join(dir, "tests/helpers.py"), "EXPECTED = 101\n");
    const why = await runKiln(["why", "tests/test_base.py::test_base"], { cwd: dir });
    expect(why.stdout).toContain("  tests/test_base.py -> imports tests/helpers.py (changed)\n");
    const r = await ran(dir, ["test", "--changed"]);
    expect(r.outcomes["tests/test_base.py::test_base"]).toBe("failed");
  });
});

describe("kiln why", () => {
  it("prints the chain that selects a test, or why none does", async () => {
    const dir = await project();
    writeFileSync(join(dir, "lib/consts.py"), "A = 2\nB = 2\n");
    const selected = await runKiln(["why", "tests/unit/test_top.py::test_value"], { cwd: dir });
    expect(selected.code).toBe(0);
    expect(selected.stdout).toContain(
      "tests/unit/test_top.py::test_value: selected:\n" +
        "  tests/unit/test_top.py -> imports lib/top.py -> imports lib/mid.py -> imports lib/consts.py (changed)\n",
    );
    const not = await runKiln(["why", "tests/test_base.py::test_base", "--changed"], { cwd: dir });
    expect(not.code).toBe(0);
    expect(not.stdout).toContain(
      "tests/test_base.py::test_base: not selected: no import chain leads from " +
        "tests/test_base.py to any of the changed files: lib/consts.py",
    );
    const conftest = await runKiln(
      ["why", "tests/unit/test_top.py", "--affected-by", "tests/unit/conftest.py"],
      { cwd: dir },
    );
    expect(conftest.stdout).toContain(
      "tests/unit/test_top.py -> is below tests/unit/conftest.py (changed)",
    );
  });

  it("a bad ref or flag combination is a usage error", async () => {
    const dir = await project();
    const r = await runKiln(["why", "tests/test_base.py", "--changed", "nope"], { cwd: dir });
    expect(r.code).toBe(4);
    const both = await runKiln(
      ["why", "tests/test_base.py", "--changed", "--affected-by", "x.py"],
      { cwd: dir },
    );
    expect(both.code).toBe(4);
    expect(both.stderr).toContain("--changed and --affected-by cannot be used together");
  });
});
