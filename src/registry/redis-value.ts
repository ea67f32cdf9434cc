// The one binary value the Redis store keeps per key: a single string value
// (not a hash) so a batch of lookups is one MGET. Layout:
//   "KLN1" | sha256 (32 bytes) | meta length (u32 BE) | meta (UTF-8 JSON) | code
// The digest covers meta and code (checksum.ts); a torn value fails the
// length or the digest check, and a foreign value fails the magic.
import { DIGEST_BYTES, entryDigest } from "./checksum.js";
import { decodeMeta, encodeMeta } from "./entry-meta.js";
import type { StoredEntry } from "./types.js";

const MAGIC = Buffer.from("KLN1", "ascii");
const HEADER_BYTES = MAGIC.length + DIGEST_BYTES + 4;

export function encodeRedisValue(entry: StoredEntry): Buffer {
  const meta = encodeMeta(entry);
  const metaBytes = Buffer.from(meta, "utf8");
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  entryDigest(entry.code, meta).copy(header, MAGIC.length);
  header.writeUInt32BE(metaBytes.length, MAGIC.length + DIGEST_BYTES);
  return Buffer.concat([header, metaBytes, entry.code]);
}

/** The entry, or undefined when the value is foreign, torn or fails its checksum. */
export function decodeRedisValue(value: Buffer): StoredEntry | undefined {
  if (value.length < HEADER_BYTES || !value.subarray(0, MAGIC.length).equals(MAGIC)) {
    return undefined;
  }
  const metaLength = value.readUInt32BE(MAGIC.length + DIGEST_BYTES);
  if (HEADER_BYTES + metaLength > value.length) return undefined;
  const meta = value.toString("utf8", HEADER_BYTES, HEADER_BYTES + metaLength);
  // A copy: the reply buffer may be a slice of a larger socket buffer.
  const code = Buffer.from(value.subarray(HEADER_BYTES + metaLength));
  const digest = value.subarray(MAGIC.length, MAGIC.length + DIGEST_BYTES);
  if (!entryDigest(code, meta).equals(digest)) return undefined;
  const decoded = decodeMeta(meta);
  return decoded === undefined ? undefined : { code, ...decoded };
}
