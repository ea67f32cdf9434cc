// RedisStore against a real redis-server on a loopback port, plus openStore's
// fallback to the local store and `kiln cache` on both stores.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, RESP_TYPES } from "redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cacheAction } from "../../src/cli/cache-command.js";
import { openStore } from "../../src/registry/open-store.js";
import { REDIS_KEY_PREFIX, RedisStore } from "../../src/registry/redis-store.js";
import { encodeRedisValue } from "../../src/registry/redis-value.js";
import { SqliteStore } from "../../src/registry/sqlite-store.js";
import type { StoredEntry } from "../../src/registry/types.js";
import { freePort, type RedisServer, startRedisServer } from "../helpers/redis-server.js";

let server: RedisServer;
let admin: ReturnType<typeof adminClient>;
let root: string;
let warnings: string[];
const stores: RedisStore[] = [];

function adminClient(url: string) {
  return createClient({ url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

beforeAll(async () => {
  server = await startRedisServer();
  admin = adminClient(server.url);
  await admin.connect();
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

beforeEach(async () => {
  await admin.flushAll();
  root = await mkdtemp(join(tmpdir(), "kiln-redis-store-"));
  warnings = [];
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await rm(root, { recursive: true, force: true });
});

async function connect(url = server.url, commandTimeoutMs?: number): Promise<RedisStore> {
  const store = await RedisStore.connect(url, { warn: (m) => warnings.push(m), commandTimeoutMs });
  stores.push(store);
  return store;
}

function entry(code: Buffer | string): StoredEntry {
  return {
    code: Buffer.isBuffer(code) ? code : Buffer.from(code),
    imports: [{ module: "os", line: 1, level: 0, conditional: true }],
    names: [{ name: "C", kind: "class", line: 2 }],
    dynamicNames: true,
  };
}

describe("RedisStore", () => {
  it("round-trips entries under kiln:v1:, and a missing key is a miss", async () => {
    const store = await connect();
    await store.putMany(
      new Map([
        ["a:b", entry("alpha")],
        ["c", entry("gamma")],
      ]),
    );
    const got = await store.getMany(["a:b", "c", "missing"]);
    expect(got).toEqual(
      new Map([
        ["a:b", entry("alpha")],
        ["c", entry("gamma")],
      ]),
    );
    expect(await admin.exists(`${REDIS_KEY_PREFIX}a:b`)).toBe(1);
    expect(await admin.ttl(`${REDIS_KEY_PREFIX}a:b`)).toBe(-1); // no expiry
  });

  it("keeps every byte value and large blobs intact", async () => {
    const store = await connect();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x00, 0x0d, 0x0a]);
    await store.putMany(
      new Map([
        ["all", entry(all)],
        ["big", entry(big)],
        ["u", entry(invalidUtf8)],
      ]),
    );
    const got = await store.getMany(["all", "big", "u"]);
    expect(got.get("all")?.code.equals(all)).toBe(true);
    expect(got.get("big")?.code.equals(big)).toBe(true);
    expect(got.get("u")?.code.equals(invalidUtf8)).toBe(true);
  });

  it("reads batches larger than one MGET", async () => {
    const store = await connect();
    const many = new Map(Array.from({ length: 1234 }, (_, i) => [`k${i}`, entry(`code ${i}`)]));
    await store.putMany(many);
    const keys = [...many.keys(), "absent"];
    const got = await store.getMany(keys);
    expect(got.size).toBe(1234);
    expect(got.get("k1000")?.code.toString()).toBe("code 1000");
  });

  it.each([
    ["a value overwritten with SET", () => Buffer.from("print('pwned')")],
    ["a flipped byte in the code", () => flipLastByte(encodeRedisValue(entry("x = 1")))],
    ["a torn value", () => encodeRedisValue(entry("x = 1")).subarray(0, 40)],
    ["an empty value", () => Buffer.alloc(0)],
  ])("treats %s as a miss, deletes it and counts it", async (_name, bad) => {
    const store = await connect();
    await store.putMany(
      new Map([
        ["k", entry("x = 1")],
        ["ok", entry("y = 2")],
      ]),
    );
    await admin.set(`${REDIS_KEY_PREFIX}k`, bad());
    const got = await store.getMany(["k", "ok"]);
    expect([...got.keys()]).toEqual(["ok"]);
    expect((await store.stats()).corrupted).toBe(1);
    expect(await admin.exists(`${REDIS_KEY_PREFIX}k`)).toBe(0);
    expect(warnings).toEqual([]);
  });

  it("shares entries between two clients", async () => {
    const writer = await connect();
    const reader = await connect();
    await writer.putMany(new Map([["shared", entry("from the writer")]]));
    expect((await reader.getMany(["shared"])).get("shared")).toEqual(entry("from the writer"));
  });

  it("counts and clears only its own keys", async () => {
    const store = await connect();
    await admin.set("someone:else", "keep me");
    await store.putMany(
      new Map([
        ["a", entry("1")],
        ["b", entry("22")],
      ]),
    );
    const stats = await store.stats();
    expect(stats.entries).toBe(2);
    expect(stats.bytes).toBe(
      encodeRedisValue(entry("1")).length + encodeRedisValue(entry("22")).length,
    );
    expect(stats.location).toBe(server.url);
    expect(await store.gc()).toBe(0);
    await store.clear();
    expect((await store.stats()).entries).toBe(0);
    expect((await admin.get("someone:else"))?.toString()).toBe("keep me");
  });

  it("degrades to misses and no-op writes, with one warning, when Redis dies mid-run", async () => {
    const own = await startRedisServer();
    try {
      const store = await connect(own.url);
      await store.putMany(new Map([["k", entry("1")]]));
      await own.stop("SIGKILL");
      expect((await store.getMany(["k"])).size).toBe(0);
      await store.putMany(new Map([["k", entry("1")]]));
      expect((await store.getMany(["k"])).size).toBe(0);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/could not read from Redis at redis:\/\/127\.0\.0\.1:\d+/);
      await expect(store.stats()).rejects.toThrow(/not available/);
    } finally {
      await own.stop();
    }
  });

  it("degrades the same way when Redis stops answering", async () => {
    const own = await startRedisServer();
    try {
      const store = await connect(own.url, 300);
      own.signal("SIGSTOP");
      const started = Date.now();
      expect((await store.getMany(["k"])).size).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(warnings).toEqual([expect.stringMatching(/no reply in 300 ms/)]);
    } finally {
      await own.stop();
    }
  });
});

describe("openStore", () => {
  it("opens Redis for a redis:// URL", async () => {
    const { store, warning } = await openStore(server.url, root);
    stores.push(store as RedisStore);
    expect(store).toBeInstanceOf(RedisStore);
    expect(warning).toBeUndefined();
  });

  it("falls back to the local store with a warning when Redis is unreachable", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const { store, warning } = await openStore(url, root);
    try {
      expect(Date.now() - started).toBeLessThan(3000);
      expect(store).toBeInstanceOf(SqliteStore);
      expect(warning).toMatch(
        new RegExp(
          `^Redis at ${url} is unreachable \\(ECONNREFUSED\\); using the local store .*registry\\.sqlite$`,
        ),
      );
      await store.putMany(new Map([["k", entry("1")]]));
      expect((await store.getMany(["k"])).size).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("hides the password in the warning", async () => {
    const url = `redis://user:hunter2@127.0.0.1:${await freePort()}`;
    const { store, warning } = await openStore(url, root);
    await store.close();
    expect(warning).not.toContain("hunter2");
    expect(warning).toContain("user:***@127.0.0.1");
  });
});

describe("kiln cache --store redis://", () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  }

  it("prints stats and clears", async () => {
    const store = await connect();
    await store.putMany(
      new Map([
        ["a", entry("1")],
        ["b", entry("2")],
      ]),
    );
    const stats = io();
    expect(await cacheAction("stats", server.url, root, stats.io)).toBe(0);
    expect(stats.out).toContain("entries: 2");
    expect(stats.out[0]).toBe(`location: ${server.url}`);
    const clear = io();
    expect(await cacheAction("clear", server.url, root, clear.io)).toBe(0);
    expect(clear.out[1]).toMatch(/^removed 2 entries/);
    expect(await admin.dbSize()).toBe(0);
  });

  it("fails (exit 1) instead of falling back when Redis is unreachable", async () => {
    const run = io();
    const url = `redis://127.0.0.1:${await freePort()}`;
    expect(await cacheAction("clear", url, root, run.io)).toBe(1);
    expect(run.err.join("\n")).toMatch(/unreachable \(ECONNREFUSED\)/);
  });
});

function flipLastByte(value: Buffer): Buffer {
  const copy = Buffer.from(value);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0x80;
  return copy;
}
