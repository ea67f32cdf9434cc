// The Unix socket exec workers connect to (python/kiln_harness/exec_worker.py).
// Each worker connects twice; every connection opens with one
// exec:attach frame naming the worker, the stream (control, output)
// and the nonce the zygote forked it with. A connection that names no
// expected worker, the wrong nonce, or a stream already attached is closed
// at once: untrusted code in one worker can reach this socket, so it must
// not be able to pose as another worker's output or control channel.
import { chownSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { decodeExecWorkerMessage } from "../protocol/decode.js";
import { ProtocolError } from "../protocol/frame-codec.js";

export type StreamName = "control" | "output";

export interface Attached {
  socket: Socket;
  /** Bytes that came after the attach frame in the same reads. */
  rest: Buffer;
}

interface Expected {
  nonce: string;
  attached: Set<StreamName>;
  onAttach(stream: StreamName, attached: Attached): void;
}

const MAX_ATTACH_FRAME = 4096;
const ATTACH_TIMEOUT_MS = 5_000;

export class AttachServer {
  private readonly expected = new Map<number, Expected>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(readonly path: string) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /** `user`: the workers run as another uid, which must be able to connect (the nonce still guards). */
  static async listen(path: string, user?: { uid: number; gid: number }): Promise<AttachServer> {
    const attach = new AttachServer(path);
    await new Promise<void>((resolve, reject) => {
      attach.server.once("error", reject);
      attach.server.listen(path, () => resolve());
    });
    if (user) chownSync(path, user.uid, user.gid);
    return attach;
  }

  /** Accept `workerId`'s two connections (each once) with `nonce`. */
  expect(workerId: number, nonce: string, onAttach: Expected["onAttach"]): void {
    this.expected.set(workerId, { nonce, attached: new Set(), onAttach });
  }

  forget(workerId: number): void {
    this.expected.delete(workerId);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), ATTACH_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 8) return;
      const length = buffered.readUInt32LE(0);
      const headerLength = buffered.readUInt32LE(4);
      if (length > MAX_ATTACH_FRAME || headerLength > length - 4) return refuse();
      if (buffered.length < 4 + length) return;
      socket.off("data", onData);
      clearTimeout(timer);
      socket.pause();
      try {
        const header = JSON.parse(buffered.subarray(8, 8 + headerLength).toString("utf8"));
        const message = decodeExecWorkerMessage(header);
        if (message.type !== "exec:attach") throw new ProtocolError("expected exec:attach");
        const expected = this.expected.get(message.workerId);
        if (!expected || expected.nonce !== message.nonce) return refuse();
        if (expected.attached.has(message.stream)) return refuse();
        expected.attached.add(message.stream);
        if (expected.attached.size === 2) this.expected.delete(message.workerId);
        expected.onAttach(message.stream, { socket, rest: buffered.subarray(4 + length) });
      } catch {
        refuse();
      }
    };
    const refuse = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on("data", onData);
  }
}
