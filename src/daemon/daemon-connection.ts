// A connection to the daemon's socket (kiln_harness/daemon_server.py): frames
// as on every Kiln channel (protocol/channel.ts), requests of clientToDaemon,
// answers of daemonToClient (protocol/schema.ts), read one at a time.
import { connect, type Socket } from "node:net";
import { FrameChannel } from "../protocol/channel.js";
import { decodeDaemonMessage } from "../protocol/decode.js";
import type { ClientToDaemon, DaemonToClient } from "../protocol/messages.js";

export class DaemonConnection {
  private readonly queue: DaemonToClient[] = [];
  private waiting: ((message: DaemonToClient | null) => void) | undefined;
  private ended = false;
  private readonly channel: FrameChannel<DaemonToClient, ClientToDaemon>;

  private constructor(private readonly socket: Socket) {
    this.channel = new FrameChannel(socket, decodeDaemonMessage, {
      message: (message) => this.push(message),
      error: () => this.end(),
      closed: () => this.end(),
    });
  }

  /** Connects, or rejects with the errno error (ENOENT, ECONNREFUSED: no daemon). */
  static open(socketPath: string): Promise<DaemonConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new DaemonConnection(socket));
      });
    });
  }

  send(message: ClientToDaemon): void {
    this.channel.send(message);
  }

  /** The next answer, or null once the daemon closed the connection. */
  next(): Promise<DaemonToClient | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Whether the connection keeps Node running (a run's does until its zygote exited). */
  hold(hold: boolean): void {
    if (hold) this.socket.ref();
    else this.socket.unref();
  }

  private push(message: DaemonToClient): void {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting(message);
    } else this.queue.push(message);
  }

  private end(): void {
    this.ended = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(null);
  }
}
