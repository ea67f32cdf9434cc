// One pre-forked exec worker as the pool sees it: its three connections
// (attach-server.ts), its readiness, and its one request. It serves one
// request and exits (DESIGN.md section 7: no state crosses requests).
import type { Socket } from "node:net";
import { decodeExecWorkerMessage } from "../protocol/decode.js";
import { encodeFrame, FrameDecoder, type FrameHeader } from "../protocol/frame-codec.js";
import type { ExecWorkerToSupervisor, SupervisorToExecWorker } from "../protocol/messages.js";
import type { Attached, StreamName } from "./attach-server.js";

export type ExecDone = Extract<ExecWorkerToSupervisor, { type: "exec:done" }>;
export type ExecRun = Extract<SupervisorToExecWorker, { type: "exec:run" }>;

export interface WorkerExit {
  code: number | null;
  signal: number | null;
}

export type OutputSink = (stream: "stdout" | "stderr", chunk: Buffer) => void;

export class ExecWorker {
  pid: number | undefined;
  /** Handed to a request (its output is that request's to close). */
  taken = false;
  readonly forkedAt = performance.now();
  private control: Socket | undefined;
  private readonly outputs = new Map<"stdout" | "stderr", Socket>();
  private sink: OutputSink | undefined;
  private readonly decoder = new FrameDecoder();
  private doneHandler: ((done: ExecDone) => void) | undefined;
  private markReady: () => void = () => {};
  private markExited: (exit: WorkerExit) => void = () => {};
  private exitInfo: WorkerExit | undefined;
  /**
   * Resolves when the worker said exec:ready (attached and sandboxed) and
   * this side has taken both of its output connections: the three connect
   * separately, so exec:ready on the control one can be read before an
   * output's attach frame, and a request run then lost that output's bytes
   * (the answer was drained without it).
   */
  readonly ready: Promise<void>;
  private saidReady = false;
  /** Resolves when the zygote reaped it. */
  readonly exited: Promise<WorkerExit>;
  private readonly outputsClosed: Promise<void>[] = [];
  private markControlClosed: () => void = () => {};
  /** The control connection ended: every frame the worker sent has been read. */
  private readonly controlClosed = new Promise<void>((resolve) => {
    this.markControlClosed = resolve;
  });

  constructor(
    readonly id: number,
    readonly profile: string,
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  attach(stream: StreamName, attached: Attached): void {
    const { socket, rest } = attached;
    if (stream === "control") {
      this.control = socket;
      socket.on("data", (chunk: Buffer) => this.onControl(chunk));
      socket.on("close", () => this.markControlClosed());
      if (rest.length) this.onControl(rest);
    } else {
      this.outputs.set(stream, socket);
      this.maybeReady();
      socket.on("data", (chunk: Buffer) => this.sink?.(stream, chunk));
      this.outputsClosed.push(new Promise((resolve) => socket.on("close", () => resolve())));
      if (rest.length) this.sink?.(stream, rest);
    }
    socket.resume();
  }

  private maybeReady(): void {
    if (this.saidReady && this.outputs.size === 2) this.markReady();
  }

  exitedWith(exit: WorkerExit): void {
    this.exitInfo = exit;
    this.markExited(exit);
  }

  /**
   * Send the request; resolves with exec:done, or null when the worker
   * exited without one (killed at the time limit, crashed).
   */
  run(request: ExecRun, body: Buffer, sink: OutputSink): Promise<ExecDone | null> {
    this.sink = sink;
    const done = new Promise<ExecDone>((resolve) => {
      this.doneHandler = resolve;
    });
    this.control?.write(encodeFrame(request as unknown as FrameHeader, body));
    // The zygote may report the exit before this side has read the frames
    // the worker sent just before it: wait for the control connection's end
    // (bounded: a child of the code may hold it open) before saying "none".
    const gone = this.exited
      .then(() => Promise.race([this.controlClosed, delay(1_000)]))
      .then(() => null);
    return Promise.race([done, gone]);
  }

  /** Every byte the worker wrote has been delivered (bounded: a child may hold the fds). */
  async outputDrained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.outputsClosed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.control?.destroy();
    for (const socket of this.outputs.values()) socket.destroy();
  }

  private onControl(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) {
        const message = decodeExecWorkerMessage(frame.header);
        if (message.type === "exec:ready") {
          this.saidReady = true;
          this.maybeReady();
        } else if (message.type === "exec:done") this.doneHandler?.(message);
      }
      if (this.decoder.failed) throw this.decoder.failed;
    } catch {
      // A worker whose control channel is garbage is compromised or broken:
      // it gets no further hearing (the pool kills it when it times out).
      this.control?.destroy();
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
