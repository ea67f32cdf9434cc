// Content hashes for the project's files with a stat-based fast path: a file
// whose (size, mtime, ctime, inode) match the last run keeps its recorded
// hash; only changed files are read and hashed. Staleness is decided by
// content (sha256), never by mtime alone, so an edit is never served stale.
import { createHash } from "node:crypto";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const INDEX_VERSION = 1;

interface Recorded {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: number;
  hash: string;
}

export interface HashedFile {
  path: string;
  hash: string;
  size: number;
}

export interface HashStats {
  files: number;
  hashed: number;
  reused: number;
}

export class FileIndex {
  private readonly recorded: Map<string, Recorded>;
  private readonly next = new Map<string, Recorded>();
  readonly stats: HashStats = { files: 0, hashed: 0, reused: 0 };

  private constructor(
    private readonly file: string,
    recorded: Map<string, Recorded>,
  ) {
    this.recorded = recorded;
  }

  static load(kilnDir: string): FileIndex {
    const file = join(kilnDir, "files.json");
    try {
      const data = JSON.parse(readFileSync(file, "utf8")) as {
        version: number;
        files: Record<string, Recorded>;
      };
      if (data.version === INDEX_VERSION) {
        return new FileIndex(file, new Map(Object.entries(data.files)));
      }
    } catch {
      // missing or corrupt: every file gets hashed once, nothing else is lost
    }
    return new FileIndex(file, new Map());
  }

  hash(path: string): HashedFile | undefined {
    let st: import("node:fs").BigIntStats;
    try {
      st = statSync(path, { bigint: true });
    } catch {
      return undefined; // vanished between the walk and now
    }
    this.stats.files++;
    const size = Number(st.size);
    const mtimeNs = st.mtimeNs.toString();
    const ctimeNs = st.ctimeNs.toString();
    const ino = Number(st.ino);
    const old = this.recorded.get(path);
    if (
      old !== undefined &&
      old.size === size &&
      old.mtimeNs === mtimeNs &&
      old.ctimeNs === ctimeNs &&
      old.ino === ino
    ) {
      this.stats.reused++;
      this.next.set(path, old);
      return { path, hash: old.hash, size };
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return undefined;
    }
    this.stats.hashed++;
    const hash = createHash("sha256").update(bytes).digest("hex");
    this.next.set(path, { size, mtimeNs, ctimeNs, ino, hash });
    return { path, hash, size };
  }

  /** Persist what this run saw (files no longer present are dropped). */
  save(): void {
    // Nothing changed (the common warm start): skip the rewrite.
    if (this.stats.hashed === 0 && this.next.size === this.recorded.size) return;
    const files: Record<string, Recorded> = {};
    for (const [path, rec] of this.next) files[path] = rec;
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: INDEX_VERSION, files }));
    renameSync(tmp, this.file);
  }
}
