// An exec worker's output connection: stdout and stderr chunks framed by
// stream, in the order the worker sent them (python/kiln_harness/
// exec_output.py OUTPUT_HEADER: one byte, 1 stdout or 2 stderr, then the
// length as a little-endian u32, then the bytes).

export type OutputStream = "stdout" | "stderr";

const HEADER = 5;
/** The worker splits larger writes (exec_output.py MAX_CHUNK). */
export const MAX_OUTPUT_CHUNK = 64 * 1024;

export class OutputFrameError extends Error {
  override name = "OutputFrameError";
}

export class OutputFrames {
  private pending: Buffer = Buffer.alloc(0);

  /**
   * The chunks completed by `data`, neighbours of one stream joined (an
   * unbuffered stderr sends print's pieces one by one); throws on a frame
   * no worker of ours sends.
   */
  push(data: Buffer): [OutputStream, Buffer][] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const chunks: [OutputStream, Buffer][] = [];
    let at = 0;
    while (this.pending.length - at >= HEADER) {
      const id = this.pending[at];
      const length = this.pending.readUInt32LE(at + 1);
      if ((id !== 1 && id !== 2) || length > MAX_OUTPUT_CHUNK) {
        throw new OutputFrameError(`an output frame with stream ${id} and length ${length}`);
      }
      if (this.pending.length - at - HEADER < length) break;
      const start = at + HEADER;
      const stream = id === 1 ? "stdout" : "stderr";
      const data = this.pending.subarray(start, start + length);
      const last = chunks.at(-1);
      if (last?.[0] === stream) last[1] = Buffer.concat([last[1], data]);
      else chunks.push([stream, data]);
      at = start + length;
    }
    this.pending = this.pending.subarray(at);
    return chunks;
  }

  /** Bytes of a frame that never completed (the connection ended inside it). */
  get leftover(): number {
    return this.pending.length;
  }
}
