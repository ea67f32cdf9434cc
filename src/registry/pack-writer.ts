// The pack the zygote maps (python/kiln_harness/loader.py, class Pack):
//   u32le index length, UTF-8 JSON index, then the code blobs back to back.
// Index: {version, files: {path: [offset, length, rewritten 0|1]}, dirs, foreign}
// with offsets relative to the end of the index. One file per run: the
// zygote reads code straight from the map, no copy per module.
import { closeSync, openSync, writeSync } from "node:fs";

export const PACK_VERSION = 1;

export interface PackEntry {
  path: string;
  code: Buffer;
  rewritten: boolean;
}

export function writePack(
  file: string,
  entries: readonly PackEntry[],
  dirs: readonly string[],
  foreign: readonly string[],
): number {
  const files: Record<string, [number, number, number]> = {};
  let offset = 0;
  for (const entry of entries) {
    files[entry.path] = [offset, entry.code.length, entry.rewritten ? 1 : 0];
    offset += entry.code.length;
  }
  const index = Buffer.from(
    JSON.stringify({ version: PACK_VERSION, files, dirs, foreign }),
    "utf8",
  );
  const head = Buffer.alloc(4);
  head.writeUInt32LE(index.length, 0);
  const fd = openSync(file, "w");
  try {
    writeSync(fd, head);
    writeSync(fd, index);
    for (const entry of entries) writeSync(fd, entry.code);
  } finally {
    closeSync(fd);
  }
  return 4 + index.length + offset;
}
