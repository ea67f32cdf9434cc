// The embedded default store: one SQLite file, <rootdir>/.kiln/registry.sqlite
// (DESIGN.md section 3). Safe with concurrent runs and crashes (WAL, see
// sqlite-schema.ts), bounded in size (least-recently-used eviction), and
// checksummed: an entry that does not verify is deleted and reported as a
// miss, so the caller recompiles it instead of executing damaged code.
import { renameSync, rmSync, statSync } from "node:fs";
import { ensureKilnDir, registryPath } from "../config/kiln-dir.js";
import { entryChecksum } from "./checksum.js";
import { decodeMeta, encodeMeta } from "./entry-meta.js";
import {
  type Connection,
  type EntryRow,
  isCorruptionError,
  isSqliteFailure,
  openConnection,
  type SqliteFailure,
} from "./sqlite-schema.js";
import type { ModuleStore, StoredEntry, StoreStats } from "./types.js";

export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** gc() evicts down to this fraction of maxBytes, so a full store does not evict on every put. */
export const GC_TARGET_FRACTION = 0.9;
// A hit rewrites last_used only when the stored value is older than this:
// LRU order at minute resolution is plenty, and a warm run that hits every
// module then costs no writes at all.
const TOUCH_GRANULARITY_MS = 60_000;

export interface SqliteStoreOptions {
  /** Size bound on the entries (code + meta bytes); default 256 MiB. */
  maxBytes?: number;
  /** Where warnings go (corrupt file moved aside, cache unusable); default stderr. */
  warn?: (message: string) => void;
  /** Milliseconds clock for last_used; tests inject one. */
  now?: () => number;
}

export class SqliteStore implements ModuleStore {
  /** Opens <rootdir>/.kiln/registry.sqlite, creating .kiln/ (with its .gitignore) first. */
  static async open(rootdir: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    await ensureKilnDir(rootdir);
    return new SqliteStore(registryPath(rootdir), options);
  }

  readonly file: string;
  readonly maxBytes: number;
  private readonly warn: (message: string) => void;
  private readonly now: () => number;
  private conn: Connection | undefined;
  /** Inode of the file `conn` has open, to recognise it when replacing it. */
  private inode: number | undefined;
  private corrupted = 0;
  private warned = false;
  private closed = false;

  /** Opens `file` directly; its directory must exist. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.warn = options.warn ?? ((m) => process.stderr.write(`kiln: warning: ${m}\n`));
    this.now = options.now ?? Date.now;
    this.conn = this.connect();
  }

  async getMany(keys: readonly string[]): Promise<Map<string, StoredEntry>> {
    if (keys.length === 0) return new Map();
    return this.degrading("read from", new Map(), (conn) => {
      // One read transaction: a single snapshot and a single lock round trip.
      const rows = conn.db.transaction(() =>
        keys.map((key): [string, EntryRow | undefined] => [key, conn.get.get(key)]),
      )();
      const now = this.now();
      const found = new Map<string, StoredEntry>();
      const stale: string[] = [];
      for (const [key, row] of rows) {
        if (row === undefined) continue;
        const entry = verify(row);
        if (entry === undefined) {
          this.corrupted++;
          conn.dropIfUnchanged.run(key, row.code, row.meta, row.checksum);
          continue;
        }
        found.set(key, entry);
        if (row.lastUsed < now - TOUCH_GRANULARITY_MS) stale.push(key);
      }
      if (stale.length > 0) this.touch(conn, stale, now);
      return found;
    });
  }

  async putMany(entries: ReadonlyMap<string, StoredEntry>): Promise<void> {
    if (entries.size === 0) return;
    this.degrading("write to", undefined, (conn) => {
      const now = this.now();
      conn.db
        .transaction(() => {
          for (const [key, entry] of entries) {
            const meta = encodeMeta(entry);
            const size = entry.code.length + Buffer.byteLength(meta);
            conn.put.run(key, entry.code, meta, entryChecksum(entry.code, meta), size, now);
          }
          const { bytes } = conn.totals.get() ?? { bytes: 0 };
          if (bytes > this.maxBytes) this.evictInside(conn, bytes);
        })
        .immediate();
    });
  }

  async increment(key: string, floor: number): Promise<number> {
    const conn = this.live();
    // BEGIN IMMEDIATE takes the write lock before the read (SQLite's
    // transaction docs): a second writer waits (busy_timeout) and then reads
    // the value this one wrote.
    return conn.db
      .transaction(() => {
        const name = `counter:${key}`;
        const stored = conn.db.prepare("SELECT value FROM meta WHERE key = ?").pluck().get(name);
        const next = Math.max(Number(stored ?? 0), floor) + 1;
        conn.db
          .prepare(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
          )
          .run(name, String(next));
        return next;
      })
      .immediate();
  }

  // A member is a row of its own in meta (INSERT OR IGNORE, DELETE: each one
  // statement, atomic under SQLite's write lock), keyed by the set's name
  // with its length, so no set's key is a prefix of another's.
  async addMember(set: string, member: string): Promise<void> {
    this.live()
      .db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)")
      .run(memberKey(set, member), member);
  }

  async removeMember(set: string, member: string): Promise<void> {
    this.live().db.prepare("DELETE FROM meta WHERE key = ?").run(memberKey(set, member));
  }

  async members(set: string): Promise<string[]> {
    const prefix = memberKey(set, "");
    const values = this.live()
      .db.prepare("SELECT value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY value")
      .pluck()
      .all(prefix.length, prefix);
    return values.map(String);
  }

  async stats(): Promise<StoreStats> {
    const totals = this.live().totals.get() ?? { entries: 0, bytes: 0 };
    return { ...totals, corrupted: this.corrupted, location: this.file };
  }

  async clear(): Promise<void> {
    const conn = this.live();
    conn.clear.run();
    this.reclaim(conn);
  }

  async gc(): Promise<number> {
    const conn = this.live();
    const removed = conn.db
      .transaction(() => {
        const { bytes } = conn.totals.get() ?? { bytes: 0 };
        return this.evictInside(conn, bytes);
      })
      .immediate();
    if (removed > 0) this.reclaim(conn);
    return removed;
  }

  async close(): Promise<void> {
    this.conn?.db.close();
    this.conn = undefined;
    this.closed = true;
  }

  /** Evicts down to the gc target; runs inside the caller's write transaction. */
  private evictInside(conn: Connection, bytes: number): number {
    const excess = bytes - Math.floor(this.maxBytes * GC_TARGET_FRACTION);
    return excess > 0 ? conn.evict.run(excess).changes : 0;
  }

  private touch(conn: Connection, keys: readonly string[], now: number): void {
    try {
      conn.db
        .transaction(() => {
          for (const key of keys) conn.touch.run(now, key, now - TOUCH_GRANULARITY_MS);
        })
        .immediate();
    } catch (error) {
      // Only LRU precision is lost when another run holds the lock too long.
      if (!isSqliteFailure(error) || error.code !== "SQLITE_BUSY") throw error;
    }
  }

  /** Gives freed pages back to the filesystem; best effort. */
  private reclaim(conn: Connection): void {
    try {
      conn.db.pragma("incremental_vacuum");
      conn.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (error) {
      if (!isSqliteFailure(error)) throw error;
    }
  }

  private live(): Connection {
    if (this.conn === undefined) throw new Error(`the registry ${this.file} is closed`);
    return this.conn;
  }

  /**
   * Runs a getMany/putMany body. The cache must never fail a test run: a
   * damaged file is moved aside and replaced with an empty one, any other
   * SQLite error (disk full, lock held past the timeout) is one warning, and
   * either way the operation answers `fallback` (all misses, or no write).
   */
  private degrading<T>(what: string, fallback: T, body: (conn: Connection) => T): T {
    if (this.conn === undefined && !this.closed) return fallback; // unusable since a failed reopen
    try {
      return body(this.live());
    } catch (error) {
      if (!isSqliteFailure(error)) throw error;
      if (!isCorruptionError(error)) {
        this.warnOnce(
          `could not ${what} the registry ${this.file} (${error.code}: ${error.message})`,
        );
        return fallback;
      }
      this.conn?.db.close();
      this.conn = undefined;
      try {
        this.replaceDamaged(error, this.inode);
        this.conn = this.connect();
      } catch (reopen) {
        this.warnOnce(`the registry ${this.file} is unusable for this run (${String(reopen)})`);
      }
      return fallback;
    }
  }

  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(message);
  }

  /**
   * Opens the file; one that is damaged or not a database at all is renamed
   * to registry.sqlite.corrupt-<time> (kept for a bug report) and replaced.
   */
  private connect(): Connection {
    const inode = inodeOf(this.file);
    try {
      return this.opened(openConnection(this.file));
    } catch (error) {
      if (!isSqliteFailure(error) || !isCorruptionError(error)) throw error;
      this.replaceDamaged(error, inode);
    }
    return this.opened(openConnection(this.file));
  }

  private opened(conn: Connection): Connection {
    this.inode = inodeOf(this.file);
    return conn;
  }

  /** `inode` is the file found damaged; the caller has closed its connection. */
  private replaceDamaged(damage: SqliteFailure, inode: number | undefined): void {
    // Another run that hit the same damage may have replaced the file
    // already; moving its fresh database aside would lose its work.
    if (inode === undefined || inodeOf(this.file) !== inode) return;
    const aside = moveAside(this.file);
    if (aside === undefined) return;
    this.warn(
      `${this.file} is damaged (${damage.code}: ${damage.message}); moved it to ${aside} ` +
        "and started an empty registry (modules are recompiled)",
    );
  }
}

function verify(row: EntryRow): StoredEntry | undefined {
  const { code, meta, checksum } = row;
  if (!Buffer.isBuffer(code) || typeof meta !== "string" || typeof checksum !== "string") {
    return undefined;
  }
  if (entryChecksum(code, meta) !== checksum) return undefined;
  const decoded = decodeMeta(meta);
  return decoded === undefined ? undefined : { code, ...decoded };
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** Renames the damaged file aside; undefined if another run already did. */
function moveAside(file: string): string | undefined {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // The WAL belongs to the damaged file: left in place, SQLite could replay
  // its frames into the new database. The -shm index is derived; drop it.
  try {
    renameSync(`${file}-wal`, `${aside}-wal`);
  } catch {
    // no WAL
  }
  rmSync(`${file}-shm`, { force: true });
  return aside;
}

function memberKey(set: string, member: string): string {
  return `set:${set.length}:${set}:${member}`;
}
