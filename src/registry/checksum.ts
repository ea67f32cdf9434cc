// The checksum every store keeps next to a compiled module, so a corrupted or
// torn entry is detected before its code could reach the zygote (DESIGN.md
// section 3: "recompiled, never executed").
import { createHash } from "node:crypto";

/** Bytes in a raw sha256 digest. */
export const DIGEST_BYTES = 32;

/**
 * sha256 over the code's length (8 bytes, big-endian), the code, then the
 * meta text. The length prefix makes the boundary part of what is hashed:
 * without it, bytes moved from the end of the code to the start of the meta
 * would hash the same.
 */
export function entryDigest(code: Uint8Array, meta: string): Buffer {
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(code.length));
  return createHash("sha256").update(length).update(code).update(meta, "utf8").digest();
}

/** entryDigest as lowercase hex, the form the SQLite store keeps. */
export function entryChecksum(code: Uint8Array, meta: string): string {
  return entryDigest(code, meta).toString("hex");
}
