// Content hashes for the project's files, with a stat-based fast path: a file
// whose (size, mtime, ctime, inode) match what `.kiln/files.json` recorded
// keeps its recorded hash; only changed files are read and hashed. This is
// the one hash cache of the project: the module registry (`kiln test`) and
// `kiln check` both read and write it.
//
// A stat match alone is not proof: a file rewritten with the same size within
// one timestamp tick of being hashed keeps its mtime and ctime. Git calls such
// an entry "racily clean" (Documentation/technical/racy-git.txt): an entry
// whose mtime is not strictly older than the index file's own mtime may have
// changed after it was hashed, in the same tick, so it is re-hashed. Both
// times come from the same filesystem clock, so the comparison holds whatever
// the tick. When the index is rewritten, a racy entry that was not re-hashed
// is dropped rather than carried over (git "smudges" it for the same reason):
// the new index's later mtime would otherwise make it look clean.
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { fileIndexPath } from "../config/kiln-dir.js";

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
  /** Stat matched, but too recent to trust (git's racily clean entries). */
  racy: number;
}

export interface FileIndexOptions {
  /** false: start empty and never write (`kiln check --no-cache`). Default true. */
  persist?: boolean;
}

export class FileIndex {
  private readonly next = new Map<string, Recorded>();
  readonly stats: HashStats = { files: 0, hashed: 0, reused: 0, racy: 0 };

  private constructor(
    private readonly file: string,
    private readonly recorded: Map<string, Recorded>,
    /** mtime of the index file when loaded, ns; null when there was none. */
    private readonly writtenNs: bigint | null,
    private readonly persist: boolean,
  ) {}

  static path(kilnDir: string): string {
    return fileIndexPath(kilnDir);
  }

  static load(kilnDir: string, options: FileIndexOptions = {}): FileIndex {
    const file = FileIndex.path(kilnDir);
    const persist = options.persist ?? true;
    if (persist) {
      try {
        // The stat first: a writer that replaces the file between the two
        // calls leaves us an older mtime, which only makes more entries racy.
        const writtenNs = statSync(file, { bigint: true }).mtimeNs;
        const data = JSON.parse(readFileSync(file, "utf8")) as {
          version: number;
          files: Record<string, Recorded>;
        };
        if (data.version === INDEX_VERSION && typeof data.files === "object" && data.files) {
          return new FileIndex(file, new Map(Object.entries(data.files)), writtenNs, persist);
        }
      } catch {
        // missing or corrupt: every file gets hashed once, nothing else is lost
      }
    }
    return new FileIndex(file, new Map(), null, persist);
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
      if (!this.isRacy(old)) {
        this.stats.reused++;
        this.next.set(path, old);
        return { path, hash: old.hash, size };
      }
      this.stats.racy++;
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

  /** Git's rule: not strictly older than the index that recorded it. */
  private isRacy(entry: Recorded): boolean {
    return this.writtenNs === null || BigInt(entry.mtimeNs) >= this.writtenNs;
  }

  /**
   * Persist what this run saw. Entries for files this run did not look at are
   * kept while the file exists and the entry is not racy (another command may
   * walk a different set of files: `kiln check` and the registry share this).
   */
  save(): void {
    if (!this.persist) return;
    let dropped = 0;
    const files: Record<string, Recorded> = {};
    for (const [path, rec] of this.recorded) {
      if (this.next.has(path)) continue;
      if (!this.isRacy(rec) && existsSync(path)) files[path] = rec;
      else dropped++;
    }
    // Nothing changed (the common warm start): skip the rewrite, which also
    // keeps the index's mtime, the time its entries were recorded against.
    if (this.stats.hashed === 0 && dropped === 0) return;
    for (const [path, rec] of this.next) files[path] = rec;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ version: INDEX_VERSION, files }));
      renameSync(tmp, this.file);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  }
}
