// The shared store for a CI fleet (DESIGN.md section 3): the same interface
// as SqliteStore, kept in Redis under kiln:v1:<key>, one binary value per
// entry (redis-value.ts). Size is the server's business: run it with
// `maxmemory <bytes>` and `maxmemory-policy allkeys-lru`, and Redis evicts
// least-recently-used keys itself, so gc() here removes nothing. No TTLs: a
// key is valid for as long as it exists, because it names exactly what was
// compiled.
//
// The cache must never fail a test run. A Redis that dies or hangs mid-run
// turns getMany into "all misses" and putMany into a no-op, with one warning,
// and the store stays off for the rest of the run (no reconnect storm, no
// per-call timeouts). stats, clear and gc, which `kiln cache` calls, reject.
import { createClient, RESP_TYPES } from "redis";
import { decodeRedisValue, encodeRedisValue } from "./redis-value.js";
import type { ModuleStore, StoredEntry, StoreStats } from "./types.js";

export const REDIS_KEY_PREFIX = "kiln:v1:";
export const DEFAULT_CONNECT_TIMEOUT_MS = 1000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
// Keys per MGET, and per SCAN page. All batches of one call are sent in the
// same tick, which node-redis writes to the socket as one pipeline.
const BATCH = 500;

// Deletes a key only if it still holds the bytes that failed to verify, so a
// good value another machine wrote in between is not thrown away.
const DROP_IF_UNCHANGED =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

// One script runs atomically on the server (Redis EVAL): no other client's
// command runs between the GET and the SET.
const INCREMENT_FROM_FLOOR =
  "local v = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1])) + 1 redis.call('SET', KEYS[1], v) return v";

export interface RedisStoreOptions {
  connectTimeoutMs?: number;
  /** Longest wait for one batch of commands before Redis is treated as gone. */
  commandTimeoutMs?: number;
  /** Where the one "Redis went away" warning goes; default stderr. */
  warn?: (message: string) => void;
}

/** Thrown by RedisStore.connect; `reason` is short, e.g. "ECONNREFUSED". */
export class RedisUnreachableError extends Error {
  constructor(
    readonly location: string,
    readonly reason: string,
  ) {
    super(`Redis at ${location} is unreachable (${reason})`);
    this.name = "RedisUnreachableError";
  }
}

function newClient(url: string, connectTimeout: number) {
  return createClient({
    url,
    // No reconnecting and no offline queue: with either, commands to a dead
    // server wait instead of failing, and a test run would stall.
    socket: { connectTimeout, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
}

type Client = ReturnType<typeof newClient>;

// Bulk strings as Buffers, not UTF-8 strings: marshalled code is arbitrary
// bytes, and decoding it as text would corrupt it.
function buffersOf(client: Client) {
  return client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

export class RedisStore implements ModuleStore {
  /** Connects, or rejects with RedisUnreachableError within about the connect timeout. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const location = redactUrl(url);
    const connectTimeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const client = newClient(url, connectTimeout);
    // node-redis emits 'error' on socket trouble; without a listener Node
    // turns that into an uncaught exception. The failing command rejects too,
    // and that rejection is what the store acts on.
    client.on("error", () => undefined);
    try {
      // The handshake after the TCP connect has no timeout of its own.
      await withTimeout(client.connect(), connectTimeout, `no answer in ${connectTimeout} ms`);
    } catch (error) {
      destroyQuietly(client);
      throw new RedisUnreachableError(location, reasonOf(error));
    }
    return new RedisStore(client, location, options);
  }

  private readonly buffers: ReturnType<typeof buffersOf>;
  private readonly commandTimeoutMs: number;
  private readonly warn: (message: string) => void;
  private corrupted = 0;
  private down: string | undefined;

  private constructor(
    private readonly client: Client,
    /** The URL without its password. */
    readonly location: string,
    options: RedisStoreOptions,
  ) {
    this.buffers = buffersOf(client);
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.warn = options.warn ?? ((m) => process.stderr.write(`kiln: warning: ${m}\n`));
  }

  async getMany(keys: readonly string[]): Promise<Map<string, StoredEntry>> {
    const found = new Map<string, StoredEntry>();
    if (keys.length === 0 || this.down !== undefined) return found;
    try {
      const replies = await this.timed(
        Promise.all(chunk(keys, BATCH).map((part) => this.buffers.mGet(part.map(redisKey)))),
      );
      const values = replies.flat();
      const damaged: Promise<unknown>[] = [];
      keys.forEach((key, i) => {
        const value = values[i];
        if (value === null || value === undefined) return;
        const entry = Buffer.isBuffer(value) ? decodeRedisValue(value) : undefined;
        if (entry !== undefined) {
          found.set(key, entry);
          return;
        }
        this.corrupted++;
        damaged.push(
          this.buffers.eval(DROP_IF_UNCHANGED, { keys: [redisKey(key)], arguments: [value] }),
        );
      });
      if (damaged.length > 0) await this.timed(Promise.all(damaged));
      return found;
    } catch (error) {
      this.goDown("read from", error);
      return new Map();
    }
  }

  async putMany(entries: ReadonlyMap<string, StoredEntry>): Promise<void> {
    if (entries.size === 0 || this.down !== undefined) return;
    try {
      await this.timed(
        Promise.all(
          [...entries].map(([key, entry]) =>
            this.buffers.set(redisKey(key), encodeRedisValue(entry)),
          ),
        ),
      );
    } catch (error) {
      this.goDown("write to", error);
    }
  }

  async increment(key: string, floor: number): Promise<number> {
    const value = await this.timed(
      this.client.eval(INCREMENT_FROM_FLOOR, {
        keys: [redisKey(`counter:${key}`)],
        arguments: [String(floor)],
      }),
    );
    if (typeof value !== "number") {
      throw new Error(`this is a bug in kiln: Redis answered ${String(value)} to an increment`);
    }
    return value;
  }

  // SADD and SREM are single commands, atomic on the server.
  async addMember(set: string, member: string): Promise<void> {
    await this.timed(this.client.sAdd(redisKey(`set:${set}`), member));
  }

  async removeMember(set: string, member: string): Promise<void> {
    await this.timed(this.client.sRem(redisKey(`set:${set}`), member));
  }

  async members(set: string): Promise<string[]> {
    return (await this.timed(this.client.sMembers(redisKey(`set:${set}`)))).sort();
  }

  async stats(): Promise<StoreStats> {
    let entries = 0;
    let bytes = 0;
    // Strings only: a set (addMember) has no STRLEN (WRONGTYPE).
    await this.eachPage("string", async (keys) => {
      const lengths = await this.timed(Promise.all(keys.map((key) => this.client.strLen(key))));
      entries += keys.length;
      for (const length of lengths) bytes += length;
    });
    return { entries, bytes, corrupted: this.corrupted, location: this.location };
  }

  async clear(): Promise<void> {
    await this.eachPage(undefined, async (keys) => {
      await this.timed(this.client.unlink(keys));
    });
  }

  /** Always 0: eviction is Redis's own (maxmemory-policy allkeys-lru). */
  async gc(): Promise<number> {
    this.live();
    return 0;
  }

  async close(): Promise<void> {
    if (!this.client.isOpen) return;
    try {
      await this.timed(this.client.close());
    } catch {
      destroyQuietly(this.client);
    }
  }

  /** Calls `page` with each page of this store's keys, of one type or all (SCAN: never blocks the server). */
  private async eachPage(
    type: "string" | undefined,
    page: (keys: string[]) => Promise<void>,
  ): Promise<void> {
    this.live();
    let cursor = "0";
    do {
      const reply = await this.timed(
        this.client.scan(cursor, {
          MATCH: `${REDIS_KEY_PREFIX}*`,
          COUNT: BATCH,
          ...(type === undefined ? {} : { TYPE: type }),
        }),
      );
      cursor = reply.cursor;
      if (reply.keys.length > 0) await page(reply.keys);
    } while (cursor !== "0");
  }

  private live(): void {
    if (this.down !== undefined) {
      throw new Error(`Redis at ${this.location} is not available (${this.down})`);
    }
  }

  private goDown(what: string, error: unknown): void {
    if (this.down !== undefined) return;
    this.down = reasonOf(error);
    this.warn(
      `could not ${what} Redis at ${this.location} (${this.down}); ` +
        "the shared cache is off for the rest of this run",
    );
    destroyQuietly(this.client);
  }

  private timed<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.commandTimeoutMs, `no reply in ${this.commandTimeoutMs} ms`);
  }
}

function redisKey(key: string): string {
  return REDIS_KEY_PREFIX + key;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

/** Rejects with Error(`reason`) if `promise` has not settled after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, reason: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(reason)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function destroyQuietly(client: Client): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** The errno code when there is one (ECONNREFUSED), else the message. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return typeof code === "string" ? code : error.message;
  }
  return String(error);
}

/** `redis://user:secret@host:6379` → `redis://user:***@host:6379`, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
