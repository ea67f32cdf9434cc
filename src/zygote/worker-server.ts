// The Unix socket workers connect to after the fork: one connection per
// worker, so a worker's frames never interleave with another's (a shared pipe
// is only atomic up to PIPE_BUF bytes, pipe(7)).
import { createServer, type Server, type Socket } from "node:net";
import { FrameChannel } from "../protocol/channel.js";
import { decodeWorkerMessage } from "../protocol/decode.js";
import type { SupervisorToWorker, WorkerToSupervisor } from "../protocol/messages.js";
import { DEBUG, traceReceived } from "./debug-trace.js";

export type WorkerChannel = FrameChannel<WorkerToSupervisor, SupervisorToWorker>;

export interface WorkerConnectionHandlers {
  /** A worker said hello; returns the handler for its later messages. */
  connected(
    workerId: number,
    pid: number | null,
    channel: WorkerChannel,
  ): {
    message(message: WorkerToSupervisor, body: Buffer): void;
    /** Its stream stopped being kiln frames (user code wrote into the socket). */
    corrupted(error: Error): void;
    closed(): void;
  };
  /** A connection that never said hello sent something else. */
  protocolError(error: Error): void;
}

export class WorkerServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly socketPath: string,
    handlers: WorkerConnectionHandlers,
  ) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      let route: ReturnType<WorkerConnectionHandlers["connected"]> | undefined;
      const channel: WorkerChannel = new FrameChannel(socket, decodeWorkerMessage, {
        message: (message, body) => {
          if (route) {
            route.message(message, body);
          } else if (message.type === "worker:hello") {
            if (DEBUG) traceReceived(`kw${message.workerId}`, message);
            route = handlers.connected(message.workerId, message.pid, channel);
          } else {
            handlers.protocolError(new Error(`a worker sent ${message.type} before hello`));
            socket.destroy();
          }
        },
        error: (error) => (route ? route.corrupted(error) : handlers.protocolError(error)),
        closed: () => route?.closed(),
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
