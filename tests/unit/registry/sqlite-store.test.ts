import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureKilnDir, registryPath } from "../../../src/config/kiln-dir.js";
import { entryChecksum } from "../../../src/registry/checksum.js";
import { SqliteStore } from "../../../src/registry/sqlite-store.js";
import type { StoredEntry } from "../../../src/registry/types.js";

let root: string;
let warnings: string[];
let clock: number;
const open: SqliteStore[] = [];

const MINUTE = 60_000;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "kiln-sqlite-store-"));
  warnings = [];
  clock = 1_000_000;
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await rm(root, { recursive: true, force: true });
});

async function openStore(maxBytes?: number): Promise<SqliteStore> {
  const store = await SqliteStore.open(root, {
    maxBytes,
    warn: (m) => warnings.push(m),
    now: () => clock,
  });
  open.push(store);
  return store;
}

function entry(fill: number, length = 100): StoredEntry {
  return {
    code: Buffer.alloc(length, fill),
    imports: [{ module: "pkg.a", names: ["b"], line: 1, level: 1, conditional: false }],
    names: [{ name: "f", kind: "function", line: 3, signature: "(x)" }],
    dynamicNames: false,
  };
}

/** A second, raw connection, as another process or a bad disk would see the file. */
function raw(): Database.Database {
  return new Database(registryPath(root));
}

describe("SqliteStore", () => {
  it("creates .kiln/ with a .gitignore and the database in it", async () => {
    await openStore();
    expect(readFileSync(join(root, ".kiln", ".gitignore"), "utf8")).toBe("*\n");
    expect(existsSync(registryPath(root))).toBe(true);
    const db = raw();
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("round-trips entries, and a missing key is a miss", async () => {
    const store = await openStore();
    const binary = { ...entry(0), code: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) };
    await store.putMany(
      new Map([
        ["k1", entry(1)],
        ["k2", binary],
      ]),
    );
    const got = await store.getMany(["k1", "k2", "nope"]);
    expect([...got.keys()].sort()).toEqual(["k1", "k2"]);
    expect(got.get("k1")).toEqual(entry(1));
    expect(got.get("k2")?.code.equals(binary.code)).toBe(true);
    expect(await store.getMany([])).toEqual(new Map());
  });

  it("keeps entries across reopening", async () => {
    const first = await openStore();
    await first.putMany(new Map([["k", entry(7)]]));
    await first.close();
    const second = await openStore();
    expect((await second.getMany(["k"])).get("k")).toEqual(entry(7));
  });

  it("counts entries and bytes in stats", async () => {
    const store = await openStore();
    await store.putMany(
      new Map([
        ["a", entry(1, 100)],
        ["b", entry(2, 300)],
      ]),
    );
    const stats = await store.stats();
    const meta = JSON.stringify({
      imports: entry(0).imports,
      names: entry(0).names,
      dynamicNames: false,
    });
    expect(stats).toEqual({
      entries: 2,
      bytes: 400 + 2 * Buffer.byteLength(meta),
      corrupted: 0,
      location: registryPath(root),
    });
  });

  it("replaces an entry put twice", async () => {
    const store = await openStore();
    await store.putMany(new Map([["k", entry(1)]]));
    await store.putMany(new Map([["k", entry(2)]]));
    expect((await store.getMany(["k"])).get("k")).toEqual(entry(2));
    expect((await store.stats()).entries).toBe(1);
  });

  it("treats a flipped byte in a blob as a miss, drops the row and counts it", async () => {
    const store = await openStore();
    await store.putMany(
      new Map([
        ["bad", entry(1)],
        ["good", entry(2)],
      ]),
    );
    const db = raw();
    const code = db.prepare("SELECT code FROM entries WHERE key = 'bad'").pluck().get() as Buffer;
    code[10] = (code[10] ?? 0) ^ 0x01;
    db.prepare("UPDATE entries SET code = ? WHERE key = 'bad'").run(code);
    db.close();

    const got = await store.getMany(["bad", "good"]);
    expect([...got.keys()]).toEqual(["good"]);
    const stats = await store.stats();
    expect(stats.corrupted).toBe(1);
    expect(stats.entries).toBe(1);
    // The caller recompiles and puts it back; then it is served again.
    await store.putMany(new Map([["bad", entry(1)]]));
    expect((await store.getMany(["bad"])).get("bad")).toEqual(entry(1));
  });

  it.each([
    ["a torn blob", "UPDATE entries SET code = substr(code, 1, 50)"],
    ["a wrong checksum", "UPDATE entries SET checksum = 'x' || substr(checksum, 2)"],
    ["text where the blob was", "UPDATE entries SET code = 'print(1)'"],
    ["meta that is not JSON, checksummed", "UPDATE entries SET meta = '{oops'"],
    ["meta of the wrong shape, checksummed", "UPDATE entries SET meta = '{\"imports\": 1}'"],
  ])("treats %s as a miss", async (_name, sql) => {
    const store = await openStore();
    await store.putMany(new Map([["k", entry(1)]]));
    const db = raw();
    db.prepare(sql).run();
    if (sql.includes("meta =")) {
      // Re-sign, so only the meta validation can catch it.
      const row = db.prepare("SELECT code, meta FROM entries").get() as {
        code: Buffer;
        meta: string;
      };
      db.prepare("UPDATE entries SET checksum = ?").run(entryChecksum(row.code, row.meta));
    }
    db.close();
    expect((await store.getMany(["k"])).size).toBe(0);
    expect((await store.stats()).corrupted).toBe(1);
  });

  it.each([
    ["garbage", () => Buffer.from("this is not a database at all\n".repeat(200))],
    ["a truncated database", () => truncatedDatabase()],
  ])("moves %s aside with a warning and starts fresh", async (_name, bytes) => {
    const content = bytes();
    await ensureKilnDir(root);
    writeFileSync(registryPath(root), content);
    const store = await openStore();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/registry\.sqlite is damaged \(SQLITE_(NOTADB|CORRUPT)/);
    expect(warnings[0]).toMatch(/moved it to .*registry\.sqlite\.corrupt-/);
    const aside = readdirSync(join(root, ".kiln")).filter((f) => f.includes(".corrupt-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(root, ".kiln", aside[0] ?? "")).equals(content)).toBe(true);
    await store.putMany(new Map([["k", entry(1)]]));
    expect((await store.getMany(["k"])).size).toBe(1);
  });

  it("survives a damaged page found by a query: misses, moved aside, fresh store", async () => {
    const first = await openStore();
    const all = new Map(Array.from({ length: 300 }, (_, i) => [`key-${i}`, entry(i, 500)]));
    await first.putMany(all);
    await first.close();
    // Overwrite table pages well past the schema, so opening still succeeds.
    const fd = openSync(registryPath(root), "r+");
    writeSync(fd, Buffer.alloc(5 * 4096, 0xab), 0, 5 * 4096, 40 * 4096);
    closeSync(fd);
    const store = await openStore();
    const got = await store.getMany([...all.keys()]);
    expect(got.size).toBeLessThan(all.size);
    expect(warnings).toEqual([expect.stringMatching(/is damaged \(SQLITE_CORRUPT.*moved it to/)]);
    await store.putMany(all);
    expect((await store.getMany([...all.keys()])).size).toBe(all.size);
  });

  it("recreates the tables when the schema version differs", async () => {
    const first = await openStore();
    await first.putMany(new Map([["k", entry(1)]]));
    await first.close();
    const db = raw();
    db.prepare("UPDATE meta SET value = '999' WHERE key = 'schema'").run();
    db.close();
    const second = await openStore();
    expect((await second.getMany(["k"])).size).toBe(0);
    expect(warnings).toEqual([]);
    await second.putMany(new Map([["k", entry(1)]]));
    expect((await second.getMany(["k"])).size).toBe(1);
  });

  it("evicts least-recently-used entries when a put goes over the bound", async () => {
    const size = entrySize(entry(0, 1000));
    const store = await openStore(Math.floor(size * 3.5));
    for (const key of ["a", "b", "c"]) {
      await store.putMany(new Map([[key, entry(1, 1000)]]));
      clock += 2 * MINUTE;
    }
    await store.getMany(["a"]); // a is now the most recently used
    clock += 2 * MINUTE;
    await store.putMany(new Map([["d", entry(1, 1000)]]));
    // Over 3.5 entries' worth: evict down to 90% of it, which is b alone.
    const got = await store.getMany(["a", "b", "c", "d"]);
    expect([...got.keys()].sort()).toEqual(["a", "c", "d"]);
    expect((await store.stats()).bytes).toBe(3 * size);
  });

  it("gc evicts oldest first down to 90% of the bound and reports how many", async () => {
    const size = entrySize(entry(0, 1000));
    const big = await openStore();
    for (const key of ["a", "b", "c", "d", "e"]) {
      await big.putMany(new Map([[key, entry(1, 1000)]]));
      clock += 2 * MINUTE;
    }
    expect(await big.gc()).toBe(0);
    await big.close();
    const small = await openStore(size * 4);
    expect(await small.gc()).toBe(2); // 5 entries down to at most 3.6
    expect([...(await small.getMany(["a", "b", "c", "d", "e"])).keys()]).toEqual(["c", "d", "e"]);
    expect(await small.gc()).toBe(0);
  });

  it("does not rewrite last_used for entries used within the last minute", async () => {
    const store = await openStore();
    await store.putMany(new Map([["k", entry(1)]]));
    const lastUsed = () => {
      const db = raw();
      const value = db.prepare("SELECT last_used FROM entries").pluck().get();
      db.close();
      return value;
    };
    clock += 1000;
    await store.getMany(["k"]);
    expect(lastUsed()).toBe(1_000_000);
    clock += 2 * MINUTE;
    await store.getMany(["k"]);
    expect(lastUsed()).toBe(clock);
  });

  it("clear removes everything", async () => {
    const store = await openStore();
    await store.putMany(
      new Map([
        ["a", entry(1)],
        ["b", entry(2)],
      ]),
    );
    await store.clear();
    expect(await store.stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect((await store.getMany(["a", "b"])).size).toBe(0);
  });

  it("rejects use after close", async () => {
    const store = await openStore();
    await store.close();
    await expect(store.stats()).rejects.toThrow(/closed/);
    await store.close();
  });
});

function entrySize(e: StoredEntry): number {
  const meta = JSON.stringify({ imports: e.imports, names: e.names, dynamicNames: e.dynamicNames });
  return e.code.length + Buffer.byteLength(meta);
}

/** The first half of a real database with a few hundred KB of rows. */
function truncatedDatabase(): Buffer {
  const file = join(root, "whole.sqlite");
  const db = new Database(file);
  db.exec("CREATE TABLE t (a BLOB); CREATE INDEX t_a ON t (a)");
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < 100; i++) insert.run(Buffer.alloc(3000, i));
  })();
  db.close();
  const whole = readFileSync(file);
  return whole.subarray(0, whole.length >> 1);
}
