// A warm pool of Pyodide instances (issue 14): worker threads, each booted
// from the cached memory snapshot (snapshot.ts), each serving one request
// and ending, so a request never gets an instance that ran code. Sizing is
// the native pools' (src/pool/sizing.ts: Little's law, USAP refill, PSI).
// The time limit sets the instance's interrupt buffer (KeyboardInterrupt at
// the next bytecode); code that doesn't yield to it (a long C call) has its
// thread terminated after a grace period.
import { Worker } from "node:worker_threads";
import type { ExecPool, PooledWorker } from "../pool/exec-pool.js";
import type { ExecDone, ExecRun, OutputSink, WorkerExit } from "../pool/exec-worker.js";
import type { Profile } from "../pool/exec-zygote.js";
import type { SizingConfig } from "../pool/sizing.js";
import { type PoolObserver, WarmPool } from "../pool/warm-pool.js";
import type { RunMessage, ThreadData, ThreadMessage } from "./instance-thread.js";
import { INSTANCE_THREAD } from "./snapshot.js";

/** From the interrupt to terminating a thread whose code did not yield. */
const INTERRUPT_GRACE_MS = 300;
/** V8's own heap per instance (the Wasm heap is capped by memory_mb, instance-thread.ts). */
const JS_HEAP_MB = 256;

export class PyodideInstance implements PooledWorker {
  readonly pid = undefined;
  readonly forkedAt = performance.now();
  taken = false;
  killed = false;
  readonly ready: Promise<number>;
  readonly exited: Promise<WorkerExit>;
  private sink: OutputSink | undefined;
  private answer: ((done: ExecDone | null) => void) | undefined;
  private readonly interrupt = new SharedArrayBuffer(4);
  readonly thread: Worker;
  exitedAlready = false;

  constructor(
    readonly id: number,
    readonly profile: string,
    snapshotPath: string,
  ) {
    this.thread = new Worker(INSTANCE_THREAD, {
      workerData: {
        mode: "instance",
        snapshotPath,
        interrupt: this.interrupt,
      } satisfies ThreadData,
      resourceLimits: { maxOldGenerationSizeMb: JS_HEAP_MB },
      stdout: false,
      stderr: false,
    });
    let markReady: (ms: number) => void = () => {};
    this.ready = new Promise((resolve) => {
      markReady = resolve;
    });
    this.thread.on("message", (message: ThreadMessage) => {
      switch (message.type) {
        case "ready":
          markReady(message.bootMs);
          return;
        case "out":
          this.sink?.(message.stream, Buffer.from(message.data));
          return;
        case "done":
          // Killed at the time limit: its KeyboardInterrupt is not the code's answer.
          this.answer?.(this.killed ? null : (JSON.parse(message.done) as ExecDone));
          return;
        case "failed":
          this.answer?.(null);
          return;
        case "snapshot":
        case "refused":
          throw new Error(`this is a bug in kiln: an instance thread sent ${message.type}`);
      }
    });
    this.thread.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.thread.on("exit", (code) => {
        this.exitedAlready = true;
        this.answer?.(null);
        // Terminated at the time limit: as native, where the zygote SIGKILLs it.
        resolve(this.killed ? { code: null, signal: 9 } : { code, signal: null });
      });
    });
  }

  run(request: ExecRun, body: Buffer, sink: OutputSink): Promise<ExecDone | null> {
    this.sink = sink;
    const answered = new Promise<ExecDone | null>((resolve) => {
      this.answer = resolve;
    });
    const { memoryMb, workspace } = request;
    // Workspace modules compile from their source in the instance: the
    // stored code is marshalled by the pushing CPython, whose format need
    // not be Pyodide's.
    const sent: ExecRun = workspace
      ? {
          ...request,
          workspace: {
            ...workspace,
            modules: workspace.modules.map((m) => ({ ...m, codeLength: 0 })),
          },
        }
      : request;
    this.thread.postMessage({
      type: "run",
      request: JSON.stringify(sent),
      body: new Uint8Array(body),
      memoryBytes: (memoryMb ?? 1024) * 1024 * 1024,
    } satisfies RunMessage);
    return answered;
  }

  /** Output messages come before the answer on the one port: nothing is left to wait for. */
  async outputDrained(_timeoutMs: number): Promise<void> {}

  kill(): void {
    if (this.exitedAlready || this.killed) return;
    this.killed = true;
    Atomics.store(new Int32Array(this.interrupt), 0, 2); // SIGINT, as Pyodide's docs use
    setTimeout(() => void this.thread.terminate(), INTERRUPT_GRACE_MS).unref();
  }

  close(): void {
    if (!this.exitedAlready) void this.thread.terminate();
  }
}

export interface PyodidePoolOptions {
  profile: Profile;
  snapshotPath: string;
  sizing?: Partial<SizingConfig>;
  observer?: PoolObserver;
  psi?: () => number | null;
}

export class PyodidePool extends WarmPool<PyodideInstance> implements ExecPool<PyodideInstance> {
  readonly runtime = "pyodide" as const;

  constructor(private readonly options: PyodidePoolOptions) {
    super(options);
    this.refill();
  }

  protected create(id: number): PyodideInstance {
    return new PyodideInstance(id, this.profile, this.options.snapshotPath);
  }

  protected release(instance: PyodideInstance): void {
    instance.close();
  }

  protected startupFailureMessage(): string {
    return `${this.profile} pyodide instances keep dying before they are ready`;
  }

  kill(instance: PyodideInstance): void {
    instance.kill();
  }

  async stop(): Promise<void> {
    if (!this.stopAccepting()) return;
    await Promise.all([...this.workers].map((i) => i.thread.terminate()));
  }
}
