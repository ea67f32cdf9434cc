// One exec request on one pooled worker: send it, stream or collect its
// output up to the cap, enforce the time limit (the zygote kills the
// worker's process group), and shape the answer the API returns.
import { StringDecoder } from "node:string_decoder";
import type { ExecPool, PooledWorker, Runtime } from "./exec-pool.js";
import type { ExecDone, ExecRun } from "./exec-worker.js";

export type LimitHit = "time" | "memory" | "output";

export interface ExecError {
  type: string;
  message: string;
  traceback: string;
}

export interface ExecResponse {
  stdout: string;
  stderr: string;
  exit_code: number;
  result?: unknown;
  error?: ExecError;
  duration_ms: number;
  limits_hit: LimitHit[];
  /** Output past the cap was dropped. */
  truncated: boolean;
  worker: { id: number; pid: number | null; profile: string; runtime: Runtime };
}

export interface ExecOptions {
  timeoutMs: number;
  /** Most bytes of stdout plus stderr kept (and streamed). */
  outputCap: number;
  /** Live output, as it comes (the streaming API, `kiln exec`). */
  onOutput?: (stream: "stdout" | "stderr", text: string) => void;
}

/**
 * How long to wait for the last output bytes once the worker is reaped. Its
 * output connections close with it, so this bound is reached only when the
 * code left a process outside its group holding them; it is generous
 * because on a loaded machine reading what is buffered can take a while,
 * and output must not be lost (a 1 s bound lost a `print` at load 12).
 */
const DRAIN_MS = 5_000;
/** How long a worker has to exit after its answer before it is killed. */
const EXIT_MS = 1_000;

/**
 * The answer waits until the zygote has reaped the worker: by then it has
 * killed what the code left in the worker's process group and removed the
 * worker's temp dir (exec_zygote.py reap), so a client that sends its next
 * request on receiving this answer never finds this one's files (answering
 * on exec:done, before the exit, left a window in which it could). A worker
 * that does not exit after its answer (a non-daemon thread) is killed.
 */
async function reaped<W extends PooledWorker>(pool: ExecPool<W>, worker: W): Promise<void> {
  if (await settlesWithin(worker.exited, EXIT_MS)) return;
  pool.kill(worker);
  // Still no exit: the zygote itself is stuck or gone (the pool then fails
  // its workers and reports itself unhealthy); the answer is still right.
  await settlesWithin(worker.exited, EXIT_MS);
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

export async function execute<W extends PooledWorker>(
  pool: ExecPool<W>,
  request: ExecRun,
  body: Buffer,
  options: ExecOptions,
): Promise<ExecResponse> {
  const worker = await pool.acquire();
  const started = performance.now();
  const texts = { stdout: "", stderr: "" };
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  let kept = 0;
  let truncated = false;
  const sink = (stream: "stdout" | "stderr", chunk: Buffer) => {
    if (truncated) return;
    let part = chunk;
    if (kept + chunk.length > options.outputCap) {
      part = chunk.subarray(0, options.outputCap - kept);
      truncated = true;
    }
    kept += part.length;
    const text = decoders[stream].write(part);
    texts[stream] += text;
    if (text) options.onOutput?.(stream, text);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    pool.kill(worker);
  }, options.timeoutMs);
  let done: ExecDone | null;
  try {
    done = await worker.run(request, body, sink);
    // Reaped first: once the worker is gone the kernel has closed its
    // output connections, so the drain below ends as soon as the last
    // bytes are read, not at its bound (a child of the code may hold them).
    await reaped(pool, worker);
    await worker.outputDrained(DRAIN_MS);
  } finally {
    clearTimeout(timer);
    worker.close();
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const tail = decoders[stream].end();
    texts[stream] += tail;
    if (tail) options.onOutput?.(stream, tail);
  }
  const duration = performance.now() - started;
  pool.finished(worker, duration);
  const limits = new Set<LimitHit>(done?.limitsHit ?? []);
  if (truncated) limits.add("output");
  const response: ExecResponse = {
    stdout: texts.stdout,
    stderr: texts.stderr,
    exit_code: 0,
    duration_ms: Math.round(duration * 1000) / 1000,
    limits_hit: [],
    truncated,
    worker: {
      id: worker.id,
      pid: worker.pid ?? null,
      profile: worker.profile,
      runtime: pool.runtime,
    },
  };
  if (done) {
    response.exit_code = done.exitCode;
    if (done.result !== undefined) response.result = done.result;
    if (done.error) response.error = done.error;
  } else {
    const exit = await worker.exited;
    const signal = exit.signal;
    response.exit_code = exit.code ?? 128 + (signal ?? 0);
    if (timedOut) {
      limits.add("time");
      response.error = {
        type: "TimeoutError",
        message: `the code ran longer than the ${options.timeoutMs} ms time limit and was killed`,
        traceback: "",
      };
    } else {
      response.error = {
        type: "WorkerDied",
        message: signal
          ? `the worker was killed by signal ${signal}`
          : `the worker exited with status ${exit.code} without answering`,
        traceback: "",
      };
    }
  }
  response.limits_hit = [...limits];
  return response;
}
