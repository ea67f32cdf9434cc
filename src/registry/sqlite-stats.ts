// `kiln cache stats` for the SQLite store: reads the totals without writing
// anything. The store's own open (sqlite-schema.ts) sets WAL, migrates the
// schema and moves a damaged file aside, all writes; on a read-only store
// (a shared CI cache, a mounted volume) that failed with "attempt to write
// a readonly database", and looking at a store must never change it anyway.
import { existsSync, readFileSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { isSqliteFailure, readVersion, SCHEMA_VERSION, type Totals } from "./sqlite-schema.js";

/** Totals of the registry at `file` (which must exist), read-only. Throws SqliteError. */
export function readRegistryTotals(file: string): Totals {
  try {
    return totalsOf(new Database(file, { readonly: true, fileMustExist: true }));
  } catch (error) {
    // A read-only WAL database still needs its -shm file, created next to it
    // on the first read if missing (https://www.sqlite.org/wal.html#readonly):
    // in a read-only directory that fails. With no -wal content every commit
    // is in the main file, so an in-memory copy of it reads the same totals.
    if (!isSqliteFailure(error) || !cannotCreateShm(error.code) || walHasContent(file)) {
      throw error;
    }
  }
  return totalsOf(memoryCopy(file));
}

function totalsOf(db: Database.Database): Totals {
  try {
    // Another schema version is dropped and recreated by the next run: for
    // that run the store is empty, so that is what stats reports.
    if (readVersion(db) !== String(SCHEMA_VERSION)) return { entries: 0, bytes: 0 };
    const row = db
      .prepare<[], Totals>(
        "SELECT COUNT(*) AS entries, COALESCE(SUM(size), 0) AS bytes FROM entries",
      )
      .get();
    return row ?? { entries: 0, bytes: 0 };
  } finally {
    db.close();
  }
}

function memoryCopy(file: string): Database.Database {
  const copy = readFileSync(file);
  // Bytes 18-19 are the read/write format versions, 2 for WAL; an in-memory
  // database cannot be WAL, so the copy says rollback journal (1) instead
  // (https://www.sqlite.org/fileformat2.html#database_header).
  if (copy.length >= 20 && copy[18] === 2 && copy[19] === 2) {
    copy[18] = 1;
    copy[19] = 1;
  }
  return new Database(copy, { readonly: true });
}

function cannotCreateShm(code: string): boolean {
  return code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN");
}

function walHasContent(file: string): boolean {
  const wal = `${file}-wal`;
  return existsSync(wal) && statSync(wal).size > 0;
}
