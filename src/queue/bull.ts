// The work queue of `kiln test --queue` and `kiln agent`, on BullMQ (README:
// "Dependencies and why"). What Kiln relies on, and why each setting:
// - A job is locked by the agent running it; the lock is renewed while the
//   agent lives. An agent killed mid-job stops renewing: once the lock
//   expires, a live agent's stalled-job check moves the job back to the
//   queue and another agent runs it (ci-queue's lost lease re-taken).
// - maxStalledCount bounds that: a job that stalls more often fails for
//   good, so a test that kills every agent running it ends the job instead
//   of cycling forever (ci-queue's bounded requeues). The coordinator then
//   reports that test crashed (ledger.ts).
// - Each finished test is sent as job progress (Job#updateProgress → the
//   queue's event stream, in bursts: progress.ts), the last ones as the
//   job's return value (in its `completed` event), so the
//   coordinator reports it as it arrives; a
//   re-run attempt's re-reports are dropped by the ledger, keyed by attempt.
import { createRequire } from "node:module";
import type * as BullMQ from "bullmq";
import type { Queue as BullQueue, QueueEvents as BullQueueEvents, IRedisClient, Job } from "bullmq";
import type * as NodeRedis from "redis";
import type { RedisClientType } from "redis";
import { batchReports, type ReportBatch, readBatch } from "./progress.js";
// Only the type: run-spec.ts loads zod and the option tables, which the
// coordinator's BullMQ thread (bull-thread.ts) must not load while the
// zygote collects (it delayed the connection by ~80 ms: BENCHMARKS.md);
// an agent's reader imports it when it reads a spec.
import type { RunSpec } from "./run-spec.js";

// Both are CommonJS, loaded with require rather than import: an ES import of
// a CommonJS module makes Node 20 run cjs-module-lexer over it and every
// module it re-exports (bullmq's index re-exports its ~200 files), which
// cost ~50 ms of the coordinator's blocked event loop while its zygote
// collects (measured with --cpu-prof: 51 ms in the lexer; `require` of both
// 150-180 ms against 210-250 ms imported). BENCHMARKS.md, issue 15.
const requireCjs = createRequire(import.meta.url);
const { createNodeRedisClient, Queue, QueueEvents, Worker } = requireCjs("bullmq") as typeof BullMQ;
const { createClient } = requireCjs("redis") as typeof NodeRedis;

// Kept light (no BullMQ) for the command line's checks; re-exported here.
export { parseQueueUrl, QueueUrlError, REFUSAL_PREFIX } from "./queue-url.js";

/**
 * One connection for one BullMQ object, on node-redis (the client the
 * store already uses; BullMQ 6 adapts it, so no second Redis client).
 * Commands fail at once while disconnected rather than wait in node-redis'
 * offline queue: a Redis that went away is an error, never a hang.
 */
function connect(
  url: string,
  onError: (error: Error) => void = () => undefined,
  waitOffline = false,
): { client: IRedisClient; raw: RedisClientType } {
  const raw: RedisClientType = createClient({ url, disableOfflineQueue: !waitOffline });
  // A connection error is also each pending command's rejection; without a
  // listener node-redis would throw it as an uncaught 'error' event.
  raw.on("error", onError);
  const client = createNodeRedisClient(raw);
  // The adapter re-emits the client's errors; BullMQ stops listening when
  // it closes a connection, and an error during an outage after that
  // would be thrown from the socket's event (found by queue-faults.test.ts:
  // "Socket closed unexpectedly" as an uncaught exception). onError has it.
  client.on("error", () => undefined);
  return { client, raw };
}

/**
 * One connection attempt, no retry: BullMQ's objects retry a connection
 * that never opened for ever (and keep the process alive), so a Redis that
 * is not there is found out before any is made.
 */
export async function probe(url: string): Promise<void> {
  const raw = createClient({
    url,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: false, connectTimeout: 5_000 },
  });
  raw.on("error", () => undefined);
  try {
    await raw.connect();
    await raw.ping();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`the queue's Redis at ${url} is unreachable: ${why}`);
  } finally {
    if (raw.isOpen) await raw.close().catch(() => raw.destroy());
  }
}

async function closeRaw(raw: RedisClientType): Promise<void> {
  if (raw.isOpen) await raw.close().catch(() => raw.destroy());
}

/** How long an agent's close waits for BullMQ before dropping its connection. */
const CLOSE_WAIT_MS = 2_000;

/** The one queue every run and agent of this Redis shares; jobs carry their run id. */
export const QUEUE_NAME = "kiln-jobs";

/** How long a run's spec (run-spec.ts) stays in Redis: a day after the run started. */
export const RUN_SPEC_TTL_SECONDS = 86_400;

export interface QueueTimings {
  /** How long an agent's lock on a job lasts without renewal (ms). */
  lockMs: number;
  /** How often live agents look for jobs whose lock expired (ms). */
  stalledCheckMs: number;
  /** Stalls a job survives; one more fails it (a test that kills every agent). */
  maxStalls: number;
}

/**
 * BullMQ's defaults (30 s lock, 30 s check, 1 stall); KILN_QUEUE_LOCK_MS
 * shortens the lock (and the check, to half of it) for tests, where a
 * killed agent's job must come back in seconds.
 */
export function queueTimings(env: NodeJS.ProcessEnv): QueueTimings {
  const raw = env.KILN_QUEUE_LOCK_MS;
  const lockMs = raw !== undefined && /^\d+$/.test(raw) ? Math.max(200, Number(raw)) : 30_000;
  return { lockMs, stalledCheckMs: Math.max(100, Math.floor(lockMs / 2)), maxStalls: 1 };
}

export interface JobData {
  runId: string;
  nodeids: string[];
  /** The Redis key of the run's spec (run-spec.ts runSpecKey). */
  specKey?: string;
}

/**
 * Every job names its run's spec (run-spec.ts); with the first jobs of a
 * run the spec itself, written before them, which its agents read to take
 * the run's pytest options.
 */
export interface EnqueueSettings {
  specKey?: string;
  spec?: RunSpec;
}

/** One finished test, sent as the job's progress. */
export interface TestProgress {
  nodeid: string;
  attempt: number;
  /** What the coordinator replays (opaque here). */
  report: unknown;
}

export interface CoordinatorHandlers {
  /** A job's reports, in the order its agent sent them. */
  progress(jobId: string, batch: TestProgress[]): void;
  completed(jobId: string): void;
  failed(jobId: string, reason: string): void;
  /**
   * The connection to Redis failed (Redis stopped, restarted, unreachable).
   * Called once; the coordinator ends the run with a clear error naming the
   * tests not reported, rather than wait on events that may never come:
   * a restarted Redis without persistence has lost the queue's jobs.
   */
  connectionLost(message: string): void;
}

/** The coordinator's side: enqueue jobs, hear their progress and ends. */
export class JobQueue {
  private constructor(
    private readonly queue: BullQueue,
    private readonly events: BullQueueEvents,
    private readonly raws: RedisClientType[],
  ) {}

  /**
   * Connected, or rejected with the first connection error: a Redis that is
   * not there at the start is an error now, never a wait (node-redis would
   * retry for ever). Errors after that go to handlers.connectionLost.
   */
  static async open(url: string, handlers: CoordinatorHandlers): Promise<JobQueue> {
    await probe(url);
    let lost = false;
    let ready = false;
    let refuse: (error: Error) => void = () => undefined;
    const failedEarly = new Promise<never>((_resolve, reject) => {
      refuse = reject;
    });
    failedEarly.catch(() => undefined);
    const onError = (error: Error) => {
      if (lost) return;
      lost = true;
      const message = `the queue's Redis at ${url} is unreachable: ${error.message}`;
      if (ready) handlers.connectionLost(message);
      else refuse(new Error(message));
    };
    const forQueue = connect(url, onError);
    const forEvents = connect(url, onError);
    const queue = new Queue(QUEUE_NAME, { connection: forQueue.client });
    const events = new QueueEvents(QUEUE_NAME, { connection: forEvents.client });
    // BullMQ re-emits its connections' errors on these objects; an
    // EventEmitter's 'error' without a listener would be thrown.
    queue.on("error", onError);
    events.on("error", onError);
    const deliver = (jobId: string, data: unknown) => {
      const batch = readBatch(data);
      if (batch.length > 0) handlers.progress(jobId, batch);
    };
    events.on("progress", ({ jobId, data }) => deliver(jobId, data));
    // A job's last reports come as its return value (progress.ts), before
    // its end is handled: the ledger then finds every test reported.
    events.on("completed", ({ jobId, returnvalue }) => {
      deliver(jobId, returnvalue);
      handlers.completed(jobId);
    });
    events.on("failed", ({ jobId, failedReason }) => handlers.failed(jobId, failedReason));
    const opened = new JobQueue(queue, events, [forQueue.raw, forEvents.raw]);
    try {
      await Promise.race([
        Promise.all([queue.waitUntilReady(), events.waitUntilReady()]),
        failedEarly,
      ]);
    } catch (error) {
      // A graceful close would wait for a connection that never comes.
      opened.destroy();
      throw error;
    }
    ready = true;
    return opened;
  }

  /** Enqueued in the order given (the plan's longest first). */
  async enqueue(
    runId: string,
    jobs: readonly { id: string; nodeids: string[] }[],
    settings: EnqueueSettings = {},
  ): Promise<void> {
    const { spec, specKey } = settings;
    if (spec !== undefined && specKey !== undefined) {
      await this.raws[0]?.set(specKey, JSON.stringify(spec), { EX: RUN_SPEC_TTL_SECONDS });
    }
    await this.queue.addBulk(
      jobs.map((job) => ({
        name: runId,
        data: { runId, nodeids: job.nodeids, ...(specKey ? { specKey } : {}) } satisfies JobData,
        opts: { jobId: job.id, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  /**
   * The agents consuming this queue now (BullMQ names each worker's Redis
   * connection; CLIENT LIST counts them): the coordinator's "no agent"
   * check, before it waits on jobs nobody will take.
   */
  agentCount(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  /**
   * Waits until at least one agent is connected, polling every `pollMs`;
   * false once `timeoutMs` passed without one.
   */
  async waitForAgent(timeoutMs: number, pollMs = 200): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.agentCount()) > 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((done) => setTimeout(done, Math.min(pollMs, deadline - Date.now())));
    }
  }

  /**
   * The run ended early (-x, a Ctrl-C, an error): its jobs no agent took yet
   * are taken out of the queue, so agents do not run tests nobody waits for.
   * Best effort: a job being run stays until its agent finishes it.
   */
  async withdraw(jobIds: readonly string[]): Promise<void> {
    await Promise.allSettled(jobIds.map((id) => this.queue.remove(id)));
  }

  /** Drops the connections at once (they never opened). */
  private destroy(): void {
    for (const raw of this.raws) {
      try {
        raw.destroy();
      } catch {
        // already closed
      }
    }
    void Promise.allSettled([this.events.close(), this.queue.close()]);
  }

  /**
   * Closes gracefully, but waits at most CLOSE_WAIT_MS: QueueEvents' close
   * waits for its blocking read of the event stream to return (measured:
   * ~130 ms at the end of every `--queue` run); after that the connections
   * are dropped, which loses nothing once the run has ended.
   */
  async close(waitMs = CLOSE_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.events.close(), this.queue.close()]),
      new Promise((done) => {
        timer = setTimeout(done, waitMs);
      }),
    ]);
    clearTimeout(timer);
    this.destroy();
  }
}

export interface AgentJob {
  id: string;
  data: JobData;
  /** 1 for the first run of this job, 2 after its first agent died, ... */
  attempt: number;
  report(progress: Omit<TestProgress, "attempt">): Promise<void>;
}

/** The agent's side: take jobs (`concurrency` at a time) and run them. */
export interface JobConsumer {
  waitUntilReady(): Promise<unknown>;
  /**
   * Stops taking jobs. With `force`, the jobs being run are not waited for:
   * their lock expires and another agent takes them (an agent told to stop).
   */
  close(force?: boolean): Promise<void>;
}

export function consumeJobs(
  url: string,
  timings: QueueTimings,
  concurrency: number,
  run: (job: AgentJob) => Promise<void>,
): JobConsumer {
  // An agent's commands wait for Redis to come back (node-redis' offline
  // queue) rather than fail at once: BullMQ's worker loop retries a failed
  // command without a pause, and with every command failing at once that
  // loop starved Node's event loop, signals included (an agent that ignored
  // SIGTERM during an outage). close() drops the connection if need be.
  const connection = connect(url, () => undefined, true);
  const worker = new Worker<JobData, ReportBatch>(
    QUEUE_NAME,
    async (job: Job<JobData>): Promise<ReportBatch> => {
      const attempt = job.attemptsStarted > 0 ? job.attemptsStarted : job.stalledCounter + 1;
      const reports = batchReports((batch) => job.updateProgress({ batch }), {
        nodeids: job.data.nodeids,
      });
      await run({
        id: job.id ?? "",
        data: job.data,
        attempt,
        report: (progress) => reports.report(attempt, progress),
      });
      // The job's last reports are its return value: one write with its
      // completion rather than a progress write before it (progress.ts).
      return reports.completion();
    },
    {
      connection: connection.client,
      concurrency,
      lockDuration: timings.lockMs,
      stalledInterval: timings.stalledCheckMs,
      maxStalledCount: timings.maxStalls,
    },
  );
  // A Redis that went away: BullMQ's worker reconnects and resumes taking
  // jobs. Said on stderr once per kind of error, not on every retry.
  let said = "";
  worker.on("error", (error) => {
    if (error.message === said) return;
    said = error.message;
    process.stderr.write(`kiln agent: queue: ${error.message} (retrying)\n`);
  });
  connection.raw.on("ready", () => {
    said = "";
  });
  return {
    waitUntilReady: () => worker.waitUntilReady(),
    close: async (force = false) => {
      // With Redis away BullMQ's close waits on a connection that may never
      // come back: bounded, then the connection is dropped.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        worker.close(force).catch(() => undefined),
        new Promise((done) => {
          timer = setTimeout(done, CLOSE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (connection.raw.isReady) await closeRaw(connection.raw);
      else if (connection.raw.isOpen) connection.raw.destroy();
    },
  };
}

/** An agent's reader of run specs (run-spec.ts), on a connection of its own. */
export interface RunSpecReader {
  /** The job's run's spec, or why there is none to use. */
  read(job: JobData): Promise<RunSpec | string>;
  close(): Promise<void>;
}

export function runSpecReader(url: string): RunSpecReader {
  // As the agent's job connection: commands wait for a Redis that went away.
  const raw: RedisClientType = createClient({ url });
  raw.on("error", () => undefined);
  const opened = raw.connect();
  opened.catch(() => undefined);
  return {
    read: async ({ runId, specKey }) => {
      const text = specKey === undefined ? null : await opened.then(() => raw.get(specKey));
      if (text === null) {
        return (
          `run ${runId} has no spec in Redis (${specKey ?? "its jobs name none"}): its ` +
          "coordinator is a kiln older than this agent, or the spec expired; use the same kiln " +
          "version everywhere"
        );
      }
      const { readRunSpec } = await import("./run-spec.js");
      const spec = readRunSpec(text);
      return typeof spec === "string"
        ? `run ${runId}'s spec is not what kiln writes: ${spec}`
        : spec;
    },
    close: async () => {
      await opened.catch(() => undefined);
      if (raw.isReady) await closeRaw(raw);
      else if (raw.isOpen) raw.destroy();
    },
  };
}
