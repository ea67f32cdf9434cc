// Kiln wire protocol, Node side. Mirror: python/kiln_harness/protocol.py.
//
// Frame layout (all integers little-endian):
//   u32 frame_length   bytes that follow this field (header_length field included)
//   u32 header_length  bytes of the JSON header
//   header             UTF-8 JSON object: {"v": 1, "type": "<domain:verb>", ...}
//   body               frame_length - 4 - header_length raw bytes (may be empty)
//
// The first frame on every channel is a "hello" handshake carrying "v"; a peer
// that sees another version refuses the channel. Frames larger than
// MAX_FRAME_BYTES are a protocol error, never a silent truncation.

import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./schema.js";

export { MAX_FRAME_BYTES, PROTOCOL_VERSION };

/** The peer sent bytes that are not a valid frame (or we were asked to send one). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export interface FrameHeader {
  type: string;
  v?: number;
  [key: string]: unknown;
}

export interface Frame {
  header: FrameHeader & { v: number };
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);
// fatal: a header that is not valid UTF-8 is garbage, not something to patch
// with U+FFFD and carry on with.
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeFrame(header: FrameHeader, body: Uint8Array = EMPTY): Buffer {
  if (typeof header.type !== "string") {
    throw new ProtocolError("this is a bug in kiln: frame header without a string type");
  }
  // Same key order as Python's dict.setdefault: a missing "v" goes last, so
  // both encoders produce identical bytes for the same header.
  const head = header.v === undefined ? { ...header, v: PROTOCOL_VERSION } : header;
  let json: string;
  try {
    json = JSON.stringify(head);
  } catch (err) {
    throw new ProtocolError(`this is a bug in kiln: frame header is not serializable: ${err}`);
  }
  const headerBytes = Buffer.byteLength(json, "utf8");
  const length = 4 + headerBytes + body.byteLength;
  if (length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`frame of ${length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
  }
  // One allocation for the whole frame: large bodies (bytecode, captured
  // output) are copied exactly once.
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32LE(length, 0);
  out.writeUInt32LE(headerBytes, 4);
  out.write(json, 8, "utf8");
  out.set(body, 8 + headerBytes);
  return out;
}

/**
 * Incremental decoder: push() any chunking of the stream, get whole frames.
 *
 * Chunks are kept as a list and joined once per frame, only when the frame is
 * complete, so a large frame arriving in many small chunks costs linear time.
 * The decoder keeps references to pushed chunks until they are consumed: do
 * not reuse a buffer after pushing it (Node stream chunks are never reused).
 *
 * After a ProtocolError the stream is unrecoverable (frame boundaries are
 * lost), so the decoder stays failed and every later push() rethrows.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  // Bytes of chunks[0] already consumed.
  private offset = 0;
  private pending = 0;
  // frame_length of the frame being assembled, once its prefix has arrived.
  private frameLength: number | undefined;
  private headerChecked = false;
  private failure: ProtocolError | undefined;

  get pendingBytes(): number {
    return this.pending;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    const frames: Frame[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.pending += chunk.length;
    }
    try {
      for (;;) {
        const frame = this.nextFrame();
        if (!frame) return frames;
        frames.push(frame);
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.failure = err;
      // The frames before the garbage are the peer's own: deliver them (a
      // test's report sent just before it corrupted its worker's channel);
      // the next push, or `failed`, reports the error.
      if (frames.length > 0) return frames;
      throw err;
    }
  }

  /** The stream's first decoding error, once one happened. */
  get failed(): ProtocolError | undefined {
    return this.failure;
  }

  private nextFrame(): Frame | undefined {
    if (this.frameLength === undefined) {
      if (this.pending < 4) return undefined;
      const length = this.peekU32(0);
      if (length < 4 || length > MAX_FRAME_BYTES) {
        throw new ProtocolError(
          `invalid frame length ${length} (must be 4..${MAX_FRAME_BYTES}); ` +
            "the peer is not speaking the kiln protocol or the stream is corrupt",
        );
      }
      this.frameLength = length;
      this.headerChecked = false;
    }
    const length = this.frameLength;
    // Check the header length as soon as it arrives rather than after a
    // possibly huge body: a corrupt prefix fails fast.
    if (!this.headerChecked && this.pending >= 8) {
      const headerLength = this.peekU32(4);
      if (headerLength > length - 4) {
        throw new ProtocolError(`header length ${headerLength} exceeds frame length ${length}`);
      }
      this.headerChecked = true;
    }
    if (this.pending < 4 + length) return undefined;

    const { bytes, owned } = this.take(4 + length);
    this.frameLength = undefined;
    const headerLength = bytes.readUInt32LE(4);
    const header = parseHeader(bytes.subarray(8, 8 + headerLength));
    const rawBody = bytes.subarray(8 + headerLength);
    // A body sliced out of a caller's chunk would pin that whole chunk in
    // memory for as long as the body lives; copy unless the frame buffer was
    // assembled just for this frame.
    const body = owned || rawBody.length === 0 ? rawBody : Buffer.from(rawBody);
    return { header, body };
  }

  /** Read a u32 at `at` bytes past the read position, across chunk borders. */
  private peekU32(at: number): number {
    const first = this.chunks[0];
    if (first && this.offset + at + 4 <= first.length) {
      return first.readUInt32LE(this.offset + at);
    }
    const scratch = Buffer.alloc(4);
    let filled = 0;
    let skip = at;
    let pos = this.offset;
    for (const chunk of this.chunks) {
      for (; pos < chunk.length && filled < 4; pos++) {
        if (skip > 0) skip--;
        else scratch[filled++] = chunk[pos] as number;
      }
      if (filled === 4) break;
      pos = 0;
    }
    return scratch.readUInt32LE(0);
  }

  /** Remove `n` bytes from the front; n <= pending. */
  private take(n: number): { bytes: Buffer; owned: boolean } {
    this.pending -= n;
    const first = this.chunks[0] as Buffer;
    const available = first.length - this.offset;
    if (n <= available) {
      const bytes = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      return { bytes, owned: false };
    }
    const bytes = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const chunk = this.chunks[used] as Buffer;
      const start = used === 0 ? this.offset : 0;
      const count = Math.min(chunk.length - start, n - filled);
      chunk.copy(bytes, filled, start, start + count);
      filled += count;
      if (start + count === chunk.length) {
        used++;
        this.offset = 0;
      } else {
        this.offset = start + count;
      }
    }
    this.chunks.splice(0, used);
    return { bytes, owned: true };
  }
}

function parseHeader(raw: Buffer): FrameHeader & { v: number } {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(raw));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProtocolError(`frame header is not JSON: ${reason}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("frame header is not an object with a string 'type'");
  }
  const header = value as Record<string, unknown>;
  if (typeof header.type !== "string") {
    throw new ProtocolError("frame header is not an object with a string 'type'");
  }
  if (typeof header.v !== "number") {
    throw new ProtocolError("frame header has no numeric protocol version 'v'");
  }
  return header as FrameHeader & { v: number };
}
