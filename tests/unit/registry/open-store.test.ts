import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CacheAction, cacheAction, formatBytes } from "../../../src/cli/cache-command.js";
import { registryPath } from "../../../src/config/kiln-dir.js";
import { openStore, parseStoreSpec, StoreSpecError } from "../../../src/registry/open-store.js";
import { SqliteStore } from "../../../src/registry/sqlite-store.js";
import type { StoredEntry } from "../../../src/registry/types.js";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "kiln-open-store-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("parseStoreSpec", () => {
  it.each([undefined, "", "sqlite"])("reads %j as the local SQLite store", (spec) => {
    expect(parseStoreSpec(spec)).toEqual({ kind: "sqlite" });
  });

  it.each(["redis://127.0.0.1:6379", "rediss://cache.internal", "redis://u:p@h:1/2"])(
    "reads %s as Redis",
    (spec) => {
      expect(parseStoreSpec(spec)).toEqual({ kind: "redis", url: spec });
    },
  );

  it.each([
    ["nonsense", /not a store name or URL/],
    ["postgres://db/kiln", /unsupported scheme postgres:/],
    ["redis://", /no host/],
  ])("rejects %s", (spec, message) => {
    expect(() => parseStoreSpec(spec)).toThrow(StoreSpecError);
    expect(() => parseStoreSpec(spec)).toThrow(message);
  });
});

describe("openStore", () => {
  it("opens .kiln/registry.sqlite by default", async () => {
    const { store, warning } = await openStore(undefined, root);
    try {
      expect(store).toBeInstanceOf(SqliteStore);
      expect(warning).toBeUndefined();
      expect((await store.stats()).location).toBe(registryPath(root));
    } finally {
      await store.close();
    }
  });

  it("rejects a bad spec with StoreSpecError", async () => {
    await expect(openStore("mysql://x", root)).rejects.toThrow(StoreSpecError);
  });
});

describe("kiln cache (SQLite)", () => {
  async function run(action: CacheAction, spec?: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await cacheAction(action, spec, root, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out, err };
  }

  async function fill(count: number): Promise<void> {
    const store = await SqliteStore.open(root);
    const entries = new Map<string, StoredEntry>();
    for (let i = 0; i < count; i++) {
      entries.set(`k${i}`, {
        code: Buffer.alloc(2048, i),
        imports: [],
        names: [],
        dynamicNames: false,
      });
    }
    await store.putMany(entries);
    await store.close();
  }

  it("exits 4 with a clear message for a bad --store", async () => {
    const result = await run("stats", "ftp://example.com");
    expect(result.code).toBe(4);
    expect(result.err).toEqual([
      'kiln: error: --store "ftp://example.com": unsupported scheme ftp:; use "sqlite" or redis://host:port',
    ]);
  });

  it("reports an empty store without creating .kiln/", async () => {
    const result = await run("stats");
    expect(result.code).toBe(0);
    expect(result.out).toEqual([
      `location: ${registryPath(root)} (not created yet)`,
      "entries: 0",
      "bytes: 0 B (0)",
      "corrupted: 0",
    ]);
    expect(existsSync(join(root, ".kiln"))).toBe(false);
    expect((await run("clear")).code).toBe(0);
    expect(existsSync(join(root, ".kiln"))).toBe(false);
  });

  it("prints stats, gc and clear", async () => {
    await fill(3);
    const stats = await run("stats");
    expect(stats.code).toBe(0);
    expect(stats.out[0]).toBe(`location: ${registryPath(root)}`);
    expect(stats.out[1]).toBe("entries: 3");
    expect(stats.out[2]).toMatch(/^bytes: 6\.\d KiB \(\d+\)$/);
    const gc = await run("gc");
    expect(gc.out[1]).toMatch(/^evicted 0 entries; 3 entries \(6\.\d KiB\) remain$/);
    const clear = await run("clear");
    expect(clear.out[1]).toMatch(/^removed 3 entries \(6\.\d KiB\)$/);
    expect((await run("stats")).out[1]).toBe("entries: 0");
  });
});

describe("kiln cache stats writes nothing", () => {
  it("leaves a store of another schema version, and .kiln/, as they were", async () => {
    const store = await SqliteStore.open(root);
    await store.putMany(
      new Map([["k", { code: Buffer.alloc(64, 1), imports: [], names: [], dynamicNames: false }]]),
    );
    await store.close();
    // As an older Kiln left it: the next run recreates it, stats must not.
    const db = new Database(registryPath(root));
    db.prepare("UPDATE meta SET value = '0' WHERE key = 'schema'").run();
    db.close();
    rmSync(join(root, ".kiln", ".gitignore"));
    const before = readFileSync(registryPath(root));
    const out: string[] = [];
    const code = await cacheAction("stats", undefined, root, {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code).toBe(0);
    expect(out[1]).toBe("entries: 0");
    expect(readFileSync(registryPath(root)).equals(before)).toBe(true);
    // A read-only WAL reader may leave SQLite's empty -shm/-wal files, nothing of Kiln's.
    expect(readdirSync(join(root, ".kiln")).filter((f) => !/-(shm|wal)$/.test(f))).toEqual([
      "registry.sqlite",
    ]);
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [256 * 1024 * 1024, "256.0 MiB"],
    [3 * 1024 ** 3, "3.0 GiB"],
  ])("%d → %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
