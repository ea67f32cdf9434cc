// The project's one hash cache (.kiln/files.json): stat fast path, and git's
// racy-timestamp rule for entries recorded in the same tick as the index.
import { createHash } from "node:crypto";
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileIndex } from "../../../src/discovery/file-index.js";

let root: string;
let kiln: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-file-index-"));
  kiln = join(root, ".kiln");
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** A whole second in the past, as utimes takes it: the same value lands in both files. */
function aSecondAgo(): number {
  return Math.floor(Date.now() / 1000) - 10;
}

describe("FileIndex", () => {
  it("reuses a recorded hash when the stat matches and the entry predates the index", () => {
    const file = join(root, "m.py");
    writeFileSync(file, "X = 1\n");
    const t = aSecondAgo();
    utimesSync(file, t, t);
    const first = FileIndex.load(kiln);
    expect(first.hash(file)?.hash).toBe(sha("X = 1\n"));
    first.save();

    const second = FileIndex.load(kiln);
    expect(second.hash(file)?.hash).toBe(sha("X = 1\n"));
    expect(second.stats).toMatchObject({ hashed: 0, reused: 1, racy: 0 });
  });

  it("re-hashes a racily clean entry: same size, mtime, ctime and inode, rewritten in the index's tick", () => {
    // What a coarse timestamp clock produces: the file is hashed ("old!"),
    // rewritten with the same size ("new!") and the index written, all within
    // one tick, so the rewrite changes neither size, mtime, ctime nor inode.
    // This machine's kernel (multigrain timestamps) never gives two writes
    // the same ctime, so the test records that state directly: the index
    // holds the file's current stat with the old content's hash, and the
    // index file's mtime equals the file's.
    const file = join(root, "m.py");
    writeFileSync(file, "old!");
    writeFileSync(file, "new!");
    const tick = aSecondAgo();
    utimesSync(file, tick, tick);
    const st = statSync(file, { bigint: true });
    const index = FileIndex.path(kiln);
    const recordFor = {
      size: Number(st.size),
      mtimeNs: st.mtimeNs.toString(),
      ctimeNs: st.ctimeNs.toString(),
      ino: Number(st.ino),
      hash: sha("old!"),
    };
    const writer = FileIndex.load(kiln);
    writer.hash(file);
    writer.save(); // creates .kiln/files.json in the real format
    const saved = JSON.parse(readFileSync(index, "utf8")) as {
      version: number;
      files: Record<string, unknown>;
    };
    expect(saved.files[file]).toEqual({ ...recordFor, hash: sha("new!") });
    saved.files[file] = recordFor;
    writeFileSync(index, JSON.stringify(saved));
    utimesSync(index, tick, tick);

    const racy = FileIndex.load(kiln);
    expect(racy.hash(file)?.hash).toBe(sha("new!"));
    expect(racy.stats).toMatchObject({ hashed: 1, reused: 0, racy: 1 });
    racy.save();

    // Re-hashed and re-recorded by a later index: trusted from now on.
    const after = FileIndex.load(kiln);
    expect(after.hash(file)?.hash).toBe(sha("new!"));
    expect(after.stats).toMatchObject({ hashed: 0, reused: 1, racy: 0 });
  });

  it("keeps entries another command did not look at, but drops deleted and racy ones", () => {
    const kept = join(root, "kept.py");
    const gone = join(root, "gone.py");
    const recent = join(root, "recent.py");
    const t = aSecondAgo();
    for (const f of [kept, gone, recent]) writeFileSync(f, f);
    utimesSync(kept, t - 1, t - 1);
    utimesSync(gone, t - 1, t - 1);
    utimesSync(recent, t, t);
    const first = FileIndex.load(kiln);
    for (const f of [kept, gone, recent]) first.hash(f);
    first.save();
    const index = FileIndex.path(kiln);
    // recent.py was written in the index's tick: its entry is racy.
    utimesSync(index, t, t);

    unlinkSync(gone);
    const other = join(root, "other.py");
    writeFileSync(other, "other");
    const second = FileIndex.load(kiln);
    second.hash(other);
    second.save();
    const files = Object.keys(
      (JSON.parse(readFileSync(index, "utf8")) as { files: Record<string, unknown> }).files,
    ).sort();
    expect(files).toEqual([kept, other].sort());
  });
});
