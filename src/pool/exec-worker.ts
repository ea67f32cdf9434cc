// One pre-forked exec worker as the pool sees it: its two connections
// (attach-server.ts: control, and output with stdout and stderr framed in
// the order they were written, output-frames.ts), its readiness, and its
// one request. It serves one
// request and exits (DESIGN.md section 7: no state crosses requests).
import type { Socket } from "node:net";
import { decodeExecWorkerMessage } from "../protocol/decode.js";
import { encodeFrame, FrameDecoder, type FrameHeader } from "../protocol/frame-codec.js";
import type { ExecWorkerToSupervisor, SupervisorToExecWorker } from "../protocol/messages.js";
import type { Attached, StreamName } from "./attach-server.js";
import { OutputFrames } from "./output-frames.js";

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
  private output: Socket | undefined;
  private readonly frames = new OutputFrames();
  private sink: OutputSink | undefined;
  private readonly decoder = new FrameDecoder();
  private doneHandler: ((done: ExecDone) => void) | undefined;
  private markReady: () => void = () => {};
  private markExited: (exit: WorkerExit) => void = () => {};
  private exitInfo: WorkerExit | undefined;
  /**
   * Resolves when the worker said exec:ready (attached and sandboxed) and
   * this side has taken its output connection: the two connect separately,
   * so exec:ready on the control one can be read before the output's
   * attach frame, and a request run then lost its output (the answer was
   * drained without it).
   */
  readonly ready: Promise<void>;
  private saidReady = false;
  /** Resolves when the zygote reaped it. */
  readonly exited: Promise<WorkerExit>;
  private outputClosed: Promise<void> = Promise.resolve();
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
      this.output = socket;
      this.maybeReady();
      socket.on("data", (chunk: Buffer) => this.onOutput(chunk));
      this.outputClosed = new Promise((resolve) => socket.on("close", () => resolve()));
      if (rest.length) this.onOutput(rest);
    }
    socket.resume();
  }

  private maybeReady(): void {
    if (this.saidReady && this.output) this.markReady();
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
      this.outputClosed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.control?.destroy();
    this.output?.destroy();
  }

  private onOutput(chunk: Buffer): void {
    try {
      for (const [stream, data] of this.frames.push(chunk)) this.sink?.(stream, data);
    } catch {
      // Not our worker's framing: its output ends here (as for control below).
      this.output?.destroy();
    }
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
