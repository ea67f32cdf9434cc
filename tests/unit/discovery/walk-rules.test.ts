// The shared walker against the real thing: it skips exactly the directories
// pytest's collection skips (pytest 9.1, default norecursedirs, venv
// detection, __pycache__), and `kiln check` and the module registry, which
// both walk through it, give every file the same module name.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCheck } from "../../../src/check/run-check.js";
import { checkCachePath } from "../../../src/config/kiln-dir.js";
import { FileIndex } from "../../../src/discovery/file-index.js";
import { walkProject } from "../../../src/discovery/walk.js";
import type { CompileServer } from "../../../src/registry/compile-client.js";
import { prepareRegistry } from "../../../src/registry/prepare.js";
import { compilerOf } from "../../../src/registry/shared-compiler.js";
import type { ModuleStore, StoredEntry } from "../../../src/registry/types.js";
import { pythonFor } from "../../helpers/pythons.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-walk-rules-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(path: string, text = ""): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

// One test file per directory, each with its own basename (pytest's default
// prepend import mode needs unique basenames outside packages).
const DIRECTORIES: Array<[dir: string, pytestCollects: boolean]> = [
  ["", true],
  ["plain", true],
  ["deep/er", true],
  ["site-packages", true], // no rule of pytest's names it
  ["condaish", true], // conda-meta without a history file is no environment
  ["venvs", true], // only the exact name "venv" is in norecursedirs
  ["lib.egg-info", true],
  [".hidden", false],
  ["x.egg", false],
  ["_darcs", false],
  ["build", false],
  ["CVS", false],
  ["dist", false],
  ["node_modules", false],
  ["venv", false],
  ["{arch}", false],
  ["__pycache__", false],
  ["env", false], // pyvenv.cfg
  ["conda", false], // conda-meta/history
  ["pkg/build", false], // matched on the name, package or not
];

describe("the shared walker's skip rules", () => {
  it("skips exactly the directories pytest's collection skips", () => {
    DIRECTORIES.forEach(([dir], i) => {
      write(join(dir, `test_d${i}.py`), "def test_ok():\n    pass\n");
    });
    write("pytest.ini", "[pytest]\n");
    write("env/pyvenv.cfg", "home = /usr/bin\n");
    write("conda/conda-meta/history");
    mkdirSync(join(root, "condaish", "conda-meta"));
    write("pkg/__init__.py");
    write("pkg/build/__init__.py");

    const collected = spawnSync(
      pythonFor("9.1"),
      ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
      { cwd: root, encoding: "utf8", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
    );
    expect(collected.status, collected.stdout + collected.stderr).toBe(0);
    const byPytest = collected.stdout
      .split("\n")
      .filter((line) => line.includes("::"))
      .map((line) => line.split("::")[0])
      .sort();
    const byWalker = walkProject(root)
      .files.map((f) => f.rel)
      .filter((rel) => /(^|\/)test_d\d+\.py$/.test(rel))
      .sort();
    const expected = DIRECTORIES.flatMap(([dir, collects], i) =>
      collects ? [dir === "" ? `test_d${i}.py` : `${dir}/test_d${i}.py`] : [],
    ).sort();
    expect(byPytest).toEqual(expected);
    expect(byWalker).toEqual(expected);
  });
});

class MemoryStore implements ModuleStore {
  async getMany() {
    return new Map<string, StoredEntry>();
  }
  async putMany() {}
  async stats() {
    return { entries: 0, bytes: 0, corrupted: 0, location: "memory" };
  }
  async clear() {}
  async gc() {
    return 0;
  }
  private counter = 0;
  async increment(_key: string, floor: number) {
    this.counter = Math.max(this.counter, floor) + 1;
    return this.counter;
  }
  async addMember() {}
  async removeMember() {}
  async members() {
    return [];
  }
  async close() {}
}

describe("module names", () => {
  it("are the same in kiln check and in the module registry", async () => {
    write("app.py", "import pkg.core\n");
    write("pkg/__init__.py");
    write("pkg/core.py", "from . import sub\n");
    write("pkg/sub/__init__.py");
    write("pkg/ns/leaf.py");
    write("src/lib/__init__.py");
    write("src/lib/x.py");
    write("tests/conftest.py");
    write("tests/test_app.py", "def test_ok():\n    pass\n");
    write("tests/unit/test_deep.py", "def test_ok():\n    pass\n");

    // The registry: module names as it records them (and asks the compiler for).
    const requested = new Map<string, string>();
    const scratch = mkdtempSync(join(tmpdir(), "kiln-walk-rules-scratch-"));
    try {
      const prepared = await prepareRegistry({
        walk: walkProject(root),
        index: FileIndex.load(join(scratch, "index")),
        facts: { magic: "a70d0d0a", cacheTag: "cpython-311", pytestVersion: "7.2.1", optimize: 0 },
        store: new MemoryStore(),
        compiler: compilerOf({
          compile: async (files: readonly { path: string; module: string }[]) =>
            files.map((f) => {
              requested.set(f.path, f.module);
              return { path: f.path, failed: true, line: 0, message: "not compiled here" };
            }),
          close: async () => {},
        } as unknown as CompileServer),
        scratch,
      });
      const recorded = new Map(prepared.records.map((r) => [r.path, r.module]));
      expect(recorded).toEqual(requested);

      // kiln check: module names as its cache records them.
      const outcome = await runCheck({ root, python: pythonFor("7.2") });
      expect(outcome.files).toBe(10);
      const cache = JSON.parse(readFileSync(checkCachePath(root), "utf8")) as {
        files: Record<string, { module: string }>;
      };
      const checked = new Map(
        Object.entries(cache.files).map(([rel, entry]) => [join(root, rel), entry.module]),
      );
      expect(checked).toEqual(recorded);
      expect(checked.get(join(root, "src/lib/x.py"))).toBe("lib.x");
      expect(checked.get(join(root, "tests/unit/test_deep.py"))).toBe("tests.unit.test_deep");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
