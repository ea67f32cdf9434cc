// Opening registry.sqlite: connection settings, the versioned schema, and
// the prepared statements SqliteStore runs. Kept apart from the store so the
// store reads as policy (checksums, LRU, degrading) and this file as SQL.
import Database from "better-sqlite3";

/** Bump when the tables change; a file with another version is recreated. */
export const SCHEMA_VERSION = 1;

// A second `kiln` run that finds the database locked waits this long before
// SQLITE_BUSY (https://www.sqlite.org/c3ref/busy_timeout.html). Writes are
// short batches, so reaching it means something is wedged, not merely busy.
const BUSY_TIMEOUT_MS = 10_000;

const SCHEMA_SQL = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE entries (
    key TEXT PRIMARY KEY,
    code BLOB NOT NULL,
    meta TEXT NOT NULL,
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_used INTEGER NOT NULL
  );
  -- Covers both the LRU walk and SUM(size), so neither reads the blobs.
  CREATE INDEX entries_lru ON entries (last_used, size);
`;

export interface EntryRow {
  code: unknown;
  meta: unknown;
  checksum: unknown;
  lastUsed: number;
}

export interface Totals {
  entries: number;
  bytes: number;
}

/** One open database and its statements; replaced wholesale after a reset. */
export interface Connection {
  db: Database.Database;
  get: Database.Statement<[string], EntryRow>;
  put: Database.Statement<[string, Buffer, string, string, number, number]>;
  /** (now, key, touchBefore): bumps last_used only when older than touchBefore. */
  touch: Database.Statement<[number, string, number]>;
  /** Deletes a row only if it still holds exactly the bytes that failed to verify. */
  dropIfUnchanged: Database.Statement<[string, unknown, unknown, unknown]>;
  totals: Database.Statement<[], Totals>;
  /** Deletes least-recently-used rows until at least `excess` bytes are freed. */
  evict: Database.Statement<[number]>;
  clear: Database.Statement<[]>;
}

/** An error thrown by better-sqlite3 (its `code` is SQLite's, e.g. SQLITE_BUSY). */
export type SqliteFailure = InstanceType<typeof Database.SqliteError>;

export function isSqliteFailure(error: unknown): error is SqliteFailure {
  return error instanceof Database.SqliteError;
}

/** Errors meaning the file itself is damaged (or was never a database). */
export function isCorruptionError(error: unknown): boolean {
  return (
    isSqliteFailure(error) &&
    (error.code === "SQLITE_NOTADB" || error.code.startsWith("SQLITE_CORRUPT"))
  );
}

/** Opens (creating if needed) the registry at `file`. Throws SqliteError. */
export function openConnection(file: string): Connection {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    // Must precede the first table: auto_vacuum can only be chosen for a new
    // database (https://www.sqlite.org/pragma.html#pragma_auto_vacuum); on an
    // existing one this is a no-op. INCREMENTAL lets gc and clear give freed
    // pages back to the filesystem without a full VACUUM.
    db.pragma("auto_vacuum = INCREMENTAL");
    // WAL: readers do not block the writer and the writer does not block
    // readers, so two runs can share the file; a crash mid-commit leaves the
    // last committed state (https://www.sqlite.org/wal.html). WAL needs
    // shared memory, so .kiln/ must not be on a network filesystem.
    db.pragma("journal_mode = WAL");
    // In WAL mode NORMAL is still corruption-safe; a power loss can only
    // roll back the latest commits (https://www.sqlite.org/pragma.html
    // #pragma_synchronous), which for a cache costs a recompile.
    db.pragma("synchronous = NORMAL");
    ensureSchema(db);
    return prepare(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

export function readVersion(db: Database.Database): string | undefined {
  const table = db
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'")
    .get();
  if (table === undefined) return undefined;
  const value = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get();
  return typeof value === "string" ? value : undefined;
}

function ensureSchema(db: Database.Database): void {
  const wanted = String(SCHEMA_VERSION);
  // The common case (right version) only reads, so concurrent opens do not
  // queue behind one another for the write lock.
  if (readVersion(db) === wanted) return;
  // IMMEDIATE takes the write lock up front: a deferred transaction that
  // reads and then writes can fail with SQLITE_BUSY at once, without waiting
  // for the busy timeout (https://www.sqlite.org/lang_transaction.html).
  db.transaction(() => {
    if (readVersion(db) === wanted) return; // another run got here first
    db.exec("DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS meta;");
    db.exec(SCHEMA_SQL);
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(wanted);
  }).immediate();
}

function prepare(db: Database.Database): Connection {
  return {
    db,
    get: db.prepare(
      "SELECT code, meta, checksum, last_used AS lastUsed FROM entries WHERE key = ?",
    ),
    put: db.prepare(
      "INSERT OR REPLACE INTO entries (key, code, meta, checksum, size, last_used) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    ),
    touch: db.prepare("UPDATE entries SET last_used = ? WHERE key = ? AND last_used < ?"),
    dropIfUnchanged: db.prepare(
      "DELETE FROM entries WHERE key = ? AND code IS ? AND meta IS ? AND checksum IS ?",
    ),
    totals: db.prepare("SELECT COUNT(*) AS entries, COALESCE(SUM(size), 0) AS bytes FROM entries"),
    // A row goes when the rows older than it free less than `excess`: the
    // shortest least-recently-used prefix that frees enough. Ties on
    // last_used go oldest-inserted first.
    evict: db.prepare(`
      DELETE FROM entries WHERE rowid IN (
        SELECT rowid FROM (
          SELECT rowid, COALESCE(SUM(size) OVER (
            ORDER BY last_used, rowid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
          ), 0) AS freed_before
          FROM entries
        ) WHERE freed_before < ?
      )`),
    clear: db.prepare("DELETE FROM entries"),
  };
}
