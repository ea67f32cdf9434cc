// What execute() and the HTTP app need from a pool and its workers, whatever
// the runtime: native (pool.ts: pre-forked sandboxed processes) or pyodide
// (src/pyodide/pyodide-pool.ts: Wasm instances in worker threads). One
// shape, so both give the same answers through the same code.
import type { ExecDone, ExecRun, OutputSink, WorkerExit } from "./exec-worker.js";

export type Runtime = "native" | "pyodide";
export const RUNTIMES: readonly Runtime[] = ["native", "pyodide"];

export interface PooledWorker {
  readonly id: number;
  /** The process (native); null for a thread. */
  readonly pid: number | undefined;
  readonly profile: string;
  readonly exited: Promise<WorkerExit>;
  run(request: ExecRun, body: Buffer, sink: OutputSink): Promise<ExecDone | null>;
  outputDrained(timeoutMs: number): Promise<void>;
  close(): void;
}

export interface ExecPool<W extends PooledWorker = PooledWorker> {
  readonly profile: string;
  readonly runtime: Runtime;
  readonly healthy: boolean;
  readonly problem: string | undefined;
  readonly size: { idle: number; starting: number; busy: number; target: number };
  acquire(): Promise<W>;
  finished(worker: W, serviceMs: number): void;
  /** The time limit: stop the worker's code now. */
  kill(worker: W): void;
  stop(): Promise<void>;
}
