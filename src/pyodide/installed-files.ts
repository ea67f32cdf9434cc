// The files the wheels installed into a Pyodide snapshot (issue 14). A
// memory snapshot keeps the Wasm heap (the modules imported while it was
// built) but not Emscripten's in-memory file system, which lives in JS
// objects: a module of a wheel first imported by a request would not be
// found. So the snapshot thread lists what the wheels installed, snapshot.ts
// keeps it beside the snapshot (<snapshot>.files), and each instance writes
// it back before it runs anything. The format is plain and ours:
// [u32 count] then per file [u32 path length][utf-8 path][u32 size][bytes].

export interface InstalledFile {
  path: string;
  data: Uint8Array;
}

export const filesPathOf = (snapshotPath: string) => `${snapshotPath}.files`;

export function packFiles(files: InstalledFile[]): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const parts = [u32(files.length)];
  for (const file of files) {
    const name = Buffer.from(file.path, "utf8");
    parts.push(u32(name.length), name, u32(file.data.length), Buffer.from(file.data));
  }
  return Buffer.concat(parts);
}

export function unpackFiles(buffer: Buffer): InstalledFile[] {
  const files: InstalledFile[] = [];
  let at = 4;
  for (let i = buffer.readUInt32LE(0); i > 0; i--) {
    const pathLength = buffer.readUInt32LE(at);
    const path = buffer.toString("utf8", at + 4, at + 4 + pathLength);
    at += 4 + pathLength;
    const size = buffer.readUInt32LE(at);
    files.push({ path, data: buffer.subarray(at + 4, at + 4 + size) });
    at += 4 + size;
  }
  if (at !== buffer.length) {
    throw new Error(`this is a bug in kiln: ${buffer.length - at} bytes after the installed files`);
  }
  return files;
}
