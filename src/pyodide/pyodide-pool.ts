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
import { PoolError, type PoolObserver } from "../pool/pool.js";
import { readCpuPressure } from "../pool/psi.js";
import {
  DEFAULT_SIZING,
  type DemandState,
  initialDemand,
  recordArrival,
  recordService,
  refillCount,
  type SizingConfig,
  targetSize,
} from "../pool/sizing.js";
import type { RunMessage, ThreadData, ThreadMessage } from "./instance-thread.js";
import { INSTANCE_THREAD } from "./snapshot.js";

/** From the interrupt to terminating a thread whose code did not yield. */
const INTERRUPT_GRACE_MS = 300;
/** Instances that die before they are ready this many times in a row: the pool is broken. */
const MAX_STARTUP_FAILURES = 5;
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

export class PyodidePool implements ExecPool<PyodideInstance> {
  readonly runtime = "pyodide" as const;
  readonly profile: Profile;
  readonly sizing: SizingConfig;
  private readonly instances = new Set<PyodideInstance>();
  private readonly idle: PyodideInstance[] = [];
  private starting = 0;
  private readonly waiters: { resolve(w: PyodideInstance): void; reject(e: Error): void }[] = [];
  private demand: DemandState = initialDemand();
  private nextId = 1;
  private failures = 0;
  private broken: PoolError | undefined;
  private stopped = false;
  private lastTarget: number;

  constructor(private readonly options: PyodidePoolOptions) {
    this.profile = options.profile;
    this.sizing = { ...DEFAULT_SIZING, ...options.sizing };
    this.lastTarget = this.sizing.floor;
    this.refill();
  }

  get size(): { idle: number; starting: number; busy: number; target: number } {
    const busy = this.instances.size - this.idle.length - this.starting;
    return { idle: this.idle.length, starting: this.starting, busy, target: this.lastTarget };
  }

  get healthy(): boolean {
    return this.broken === undefined && !this.stopped;
  }

  get problem(): string | undefined {
    return this.broken?.message;
  }

  acquire(): Promise<PyodideInstance> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.stopped) return Promise.reject(new PoolError("the pool is stopped"));
    this.demand = recordArrival(this.demand, performance.now(), this.sizing);
    const instance = this.idle.shift();
    if (instance) {
      instance.taken = true;
      this.refill();
      return Promise.resolve(instance);
    }
    this.options.observer?.emptyHit(this.profile);
    const waiting = new Promise<PyodideInstance>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    this.refill(this.waiters.length);
    return waiting;
  }

  finished(instance: PyodideInstance, serviceMs: number): void {
    this.demand = recordService(this.demand, serviceMs);
    instance.close();
  }

  kill(instance: PyodideInstance): void {
    instance.kill();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new PoolError("the pool is stopped"));
    await Promise.all([...this.instances].map((i) => i.thread.terminate()));
  }

  private refill(atLeast = 0): void {
    if (this.stopped || this.broken) return;
    const held = this.idle.length + this.starting;
    const psi = (this.options.psi ?? readCpuPressure)();
    const decision = targetSize(
      { demand: this.demand, now: performance.now(), current: held, psi },
      this.sizing,
    );
    this.lastTarget = decision.target;
    const wanted = Math.max(refillCount(held, decision.target), atLeast - this.starting);
    const room = this.sizing.ceiling - this.instances.size;
    for (let i = 0; i < Math.min(wanted, room); i++) this.spawn();
    this.options.observer?.sized(
      this.profile,
      this.idle.length + this.starting,
      decision.target,
      psi,
    );
  }

  private spawn(): void {
    const instance = new PyodideInstance(this.nextId++, this.profile, this.options.snapshotPath);
    this.instances.add(instance);
    this.starting++;
    let counted = true;
    instance.ready.then(() => {
      if (!counted) return;
      counted = false;
      this.starting--;
      this.failures = 0;
      this.options.observer?.spawned(this.profile, (performance.now() - instance.forkedAt) / 1000);
      const waiter = this.waiters.shift();
      if (waiter) {
        instance.taken = true;
        waiter.resolve(instance);
      } else this.idle.push(instance);
    });
    instance.exited.then(() => {
      this.instances.delete(instance);
      const at = this.idle.indexOf(instance);
      if (at >= 0) this.idle.splice(at, 1);
      if (counted) {
        counted = false; // died before it was ready
        this.starting--;
        this.failures++;
        if (this.failures >= MAX_STARTUP_FAILURES) {
          this.fail(
            new PoolError(`${this.profile} pyodide instances keep dying before they are ready`),
          );
          return;
        }
        if (this.waiters.length) this.refill(this.waiters.length);
        return;
      }
      if (!this.stopped) this.refill();
    });
  }

  private fail(error: PoolError): void {
    if (this.stopped) return;
    this.broken = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
