// Registry keys: an entry is reused only for the same content, magic number,
// optimize level and (for rewritten test modules) pytest version.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileIndex } from "../../../src/discovery/file-index.js";
import { walkProject } from "../../../src/discovery/walk.js";
import type { CompileRequestFile, CompileServer } from "../../../src/registry/compile-client.js";
import { type InterpreterFacts, prepareRegistry } from "../../../src/registry/prepare.js";
import { type CompilerSource, compilerOf } from "../../../src/registry/shared-compiler.js";
import type { ModuleStore, StoredEntry } from "../../../src/registry/types.js";
import { tempDir } from "../../helpers/temp.js";

class MemoryStore implements ModuleStore {
  readonly entries = new Map<string, StoredEntry>();
  async getMany(keys: readonly string[]) {
    const found = new Map<string, StoredEntry>();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) found.set(key, entry);
    }
    return found;
  }
  async putMany(entries: ReadonlyMap<string, StoredEntry>) {
    for (const [k, v] of entries) this.entries.set(k, v);
  }
  async stats() {
    return { entries: this.entries.size, bytes: 0, corrupted: 0, location: "memory" };
  }
  async clear() {
    this.entries.clear();
  }
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

/** Stands in for the Python compile server: "code" is the source itself. */
function fakeCompiler(facts: InterpreterFacts, log: string[]): CompilerSource {
  return compilerOf({
    compile: async (files: readonly CompileRequestFile[]) =>
      files.map((f) => {
        log.push(f.path);
        const bytes = readFileSync(f.path);
        return {
          path: f.path,
          sourceHash: createHash("sha256").update(bytes).digest("hex"),
          magic: facts.magic,
          cacheTag: facts.cacheTag,
          optimize: facts.optimize,
          rewrittenBy: f.rewrite ? facts.pytestVersion : null,
          code: bytes,
          imports: [],
          names: [],
          dynamicNames: false,
          allNames: [],
          namesOpaque: false,
          computedImports: false,
        };
      }),
    close: async () => {},
  } as unknown as CompileServer);
}

function project(): string {
  const root = tempDir("kiln-prepare-");
  writeFileSync(join(root, "lib.py"), "X = 1\n");
  writeFileSync(join(root, "test_lib.py"), "def test_x():\n    assert True\n");
  return root;
}

async function prepare(root: string, store: MemoryStore, facts: InterpreterFacts, log: string[]) {
  const scratch = tempDir("kiln-prepare-scratch-");
  return prepareRegistry({
    walk: walkProject(root),
    index: FileIndex.load(tempDir("kiln-prepare-index-")),
    facts,
    store,
    compiler: fakeCompiler(facts, log),
    scratch,
  });
}

const BASE: InterpreterFacts = {
  magic: "a70d0d0a",
  cacheTag: "cpython-311",
  pytestVersion: "7.2.1",
  optimize: 0,
};

describe("registry keys", () => {
  it("reuses every entry for unchanged files and the same interpreter", async () => {
    const root = project();
    const store = new MemoryStore();
    const log: string[] = [];
    const first = await prepare(root, store, BASE, log);
    expect([first.hits, first.misses]).toEqual([0, 2]);
    const second = await prepare(root, store, BASE, log);
    expect([second.hits, second.misses]).toEqual([2, 0]);
    expect(log).toHaveLength(2);
  });

  it("recompiles a file whose content changed, and only that file", async () => {
    const root = project();
    const store = new MemoryStore();
    const log: string[] = [];
    await prepare(root, store, BASE, log);
    writeFileSync(join(root, "lib.py"), "X = 2\n");
    const again = await prepare(root, store, BASE, log);
    expect([again.hits, again.misses]).toEqual([1, 1]);
    expect(log.at(-1)).toBe(join(root, "lib.py"));
  });

  it("never reuses an entry built for another magic number or optimize level", async () => {
    const root = project();
    const store = new MemoryStore();
    await prepare(root, store, BASE, []);
    expect((await prepare(root, store, { ...BASE, magic: "cb0d0d0a" }, [])).misses).toBe(2);
    expect((await prepare(root, store, { ...BASE, optimize: 1 }, [])).misses).toBe(2);
  });

  it("ties rewritten test modules, and only them, to the pytest version", async () => {
    const root = project();
    const store = new MemoryStore();
    await prepare(root, store, BASE, []);
    const log: string[] = [];
    const other = await prepare(root, store, { ...BASE, pytestVersion: "8.0.0" }, log);
    expect([other.hits, other.misses]).toEqual([1, 1]);
    expect(log).toEqual([join(root, "test_lib.py")]);
  });

  it("writes a pack holding every compiled module", async () => {
    const root = project();
    const prepared = await prepare(root, new MemoryStore(), BASE, []);
    const pack = readFileSync(prepared.packPath);
    const indexLength = pack.readUInt32LE(0);
    const index = JSON.parse(pack.subarray(4, 4 + indexLength).toString("utf8")) as {
      files: Record<string, [number, number, number]>;
    };
    expect(Object.keys(index.files).sort()).toEqual([
      join(root, "lib.py"),
      join(root, "test_lib.py"),
    ]);
    const [offset, length, rewritten] = index.files[join(root, "test_lib.py")] ?? [0, 0, 0];
    expect(rewritten).toBe(1);
    expect(
      pack.subarray(4 + indexLength + offset, 4 + indexLength + offset + length).toString(),
    ).toContain("def test_x");
  });
});
