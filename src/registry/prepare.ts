// Before pytest starts in the zygote: hash the project's files (stat fast
// path), look their compiled code up in the store, compile the misses in one
// batch, and write the run's pack. Runs while the zygote imports pytest.
import { join } from "node:path";
import type { FileIndex } from "../discovery/file-index.js";
import { looksLikeTestFile } from "../discovery/module-names.js";
import type { ProjectLayout } from "../discovery/walk.js";
import { type PackEntry, writePack } from "./pack-writer.js";
import type { CompilerSource } from "./shared-compiler.js";
import { type CompiledModule, keyString, type ModuleStore, type StoredEntry } from "./types.js";

export interface InterpreterFacts {
  magic: string;
  cacheTag: string;
  pytestVersion: string;
  optimize: number;
}

export interface ModuleCacheRecord {
  path: string;
  module: string;
  outcome: "hit" | "miss" | "error";
  detail?: string;
}

export interface PreparedRegistry {
  packPath: string;
  packBytes: number;
  records: ModuleCacheRecord[];
  hits: number;
  misses: number;
  errors: number;
  hashed: number;
  reusedHashes: number;
  ms: { hash: number; lookup: number; compile: number; pack: number };
}

export interface PrepareInput {
  walk: ProjectLayout;
  index: FileIndex;
  facts: InterpreterFacts;
  store: ModuleStore;
  /** Taken only when something must be compiled. */
  compiler: CompilerSource;
  scratch: string;
}

export async function prepareRegistry(input: PrepareInput): Promise<PreparedRegistry> {
  const { facts, walk } = input;
  const t0 = performance.now();
  const wanted: {
    path: string;
    key: string;
    rewrite: boolean;
    module: string;
    isPackage: boolean;
  }[] = [];
  for (const { abs: path, module, isPackage } of walk.files) {
    const hashed = input.index.hash(path);
    if (hashed === undefined) continue;
    const rewrite = looksLikeTestFile(path);
    const key = keyString({
      sourceHash: hashed.hash,
      magic: facts.magic,
      optimize: facts.optimize,
      rewrittenBy: rewrite ? facts.pytestVersion : null,
    });
    wanted.push({ path, key, rewrite, module, isPackage });
  }
  const t1 = performance.now();
  const found = await input.store.getMany(wanted.map((w) => w.key));
  const t2 = performance.now();

  const records: ModuleCacheRecord[] = [];
  const code = new Map<string, StoredEntry>();
  const missing = wanted.filter((w) => !found.has(w.key));
  let errors = 0;
  if (missing.length > 0) {
    const compiler = await input.compiler.take({ magic: facts.magic, pytest: facts.pytestVersion });
    try {
      const results = await compiler.compile(
        missing.map((m) => ({
          path: m.path,
          module: m.module,
          isPackage: m.isPackage,
          rewrite: m.rewrite,
        })),
        facts.optimize,
      );
      const fresh = new Map<string, StoredEntry>();
      results.forEach((result, i) => {
        const want = missing[i];
        if (want === undefined)
          throw new Error("this is a bug in kiln: compile results out of step");
        if ("failed" in result) {
          errors++;
          records.push({
            path: want.path,
            module: want.module,
            outcome: "error",
            detail: result.message,
          });
          return;
        }
        const compiled = result as CompiledModule;
        // The file may have changed since we hashed it: key what was compiled.
        const key = keyString({
          sourceHash: compiled.sourceHash,
          magic: compiled.magic,
          optimize: compiled.optimize,
          rewrittenBy: compiled.rewrittenBy,
        });
        const entry: StoredEntry = {
          code: compiled.code,
          imports: compiled.imports,
          names: compiled.names,
          dynamicNames: compiled.dynamicNames,
        };
        fresh.set(key, entry);
        code.set(want.path, entry);
        records.push({ path: want.path, module: want.module, outcome: "miss" });
      });
      if (fresh.size > 0) await input.store.putMany(fresh);
    } finally {
      await input.compiler.give(compiler);
    }
  }
  const t3 = performance.now();
  const entries: PackEntry[] = [];
  for (const w of wanted) {
    const hit = found.get(w.key);
    if (hit !== undefined) {
      records.push({ path: w.path, module: w.module, outcome: "hit" });
      entries.push({ path: w.path, code: hit.code, rewritten: w.rewrite });
      continue;
    }
    const compiled = code.get(w.path);
    if (compiled !== undefined)
      entries.push({ path: w.path, code: compiled.code, rewritten: w.rewrite });
  }
  const packPath = join(input.scratch, "registry.pack");
  const packBytes = writePack(packPath, entries, walk.dirs, walk.shadowed);
  input.index.save();
  const t4 = performance.now();
  return {
    packPath,
    packBytes,
    records,
    hits: wanted.length - missing.length,
    misses: missing.length - errors,
    errors,
    hashed: input.index.stats.hashed,
    reusedHashes: input.index.stats.reused,
    ms: { hash: t1 - t0, lookup: t2 - t1, compile: t3 - t2, pack: t4 - t3 },
  };
}
