// A framed, typed, bidirectional channel over a Node stream (the zygote's fd 3
// pipe or a worker's Unix socket). Decoding errors close the channel and are
// reported once; a peer never gets to corrupt the supervisor's state.
import type { Duplex } from "node:stream";
import { encodeFrame, FrameDecoder, type FrameHeader } from "./frame-codec.js";

export interface ChannelHandlers<In> {
  message(message: In, body: Buffer): void;
  error(error: Error): void;
  /** The peer closed its end (after every frame it sent has been delivered). */
  closed(): void;
}

export class FrameChannel<In, Out extends { type: string }> {
  private readonly decoder = new FrameDecoder();
  private open = true;

  constructor(
    private readonly stream: Duplex,
    decode: (header: FrameHeader) => In,
    handlers: ChannelHandlers<In>,
  ) {
    stream.on("data", (chunk: Buffer) => {
      if (!this.open) return;
      try {
        for (const frame of this.decoder.push(chunk)) {
          handlers.message(decode(frame.header), frame.body);
        }
        if (this.decoder.failed) throw this.decoder.failed;
      } catch (error) {
        this.open = false;
        handlers.error(error instanceof Error ? error : new Error(String(error)));
        stream.destroy();
      }
    });
    stream.on("error", (error: NodeJS.ErrnoException) => {
      // EPIPE/ECONNRESET come from a peer that died; its exit is reported by
      // whoever reaps it (the zygote for workers), not as a protocol error.
      if (error.code === "EPIPE" || error.code === "ECONNRESET") return;
      if (this.open) handlers.error(error);
    });
    stream.on("close", () => {
      this.open = false;
      handlers.closed();
    });
  }

  send(message: Out, body?: Uint8Array): void {
    // Once the peer has ended its side, writing would fail with EPIPE and
    // Node would destroy the stream before we read what is still queued.
    if (!this.open || this.stream.destroyed || !this.stream.writable || this.stream.readableEnded) {
      return;
    }
    this.stream.write(encodeFrame(message as unknown as FrameHeader, body));
  }

  close(): void {
    this.open = false;
    this.stream.end();
  }
}
