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
//   queue's event stream), so the coordinator reports it as it arrives; a
//   re-run attempt's re-reports are dropped by the ledger, keyed by attempt.
import {
  createNodeRedisClient,
  type IRedisClient,
  type Job,
  Queue,
  QueueEvents,
  Worker,
} from "bullmq";
import { createClient, type RedisClientType } from "redis";

export class QueueUrlError extends Error {}

/** `redis://[user:password@]host[:port][/db]`, checked; anything else is a usage error. */
export function parseQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueUrlError(`--queue expects redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "redis:" || parsed.hostname === "") {
    throw new QueueUrlError(`--queue expects redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  const dbText = parsed.pathname.replace(/^\//, "");
  if (dbText !== "" && !/^\d+$/.test(dbText)) {
    throw new QueueUrlError(`--queue ${url}: the database must be a number, got ${dbText}`);
  }
  return url;
}

/**
 * One connection for one BullMQ object, on node-redis (the client the
 * store already uses; BullMQ 6 adapts it, so no second Redis client).
 * Commands fail at once while disconnected rather than wait in node-redis'
 * offline queue: a Redis that went away is an error, never a hang.
 */
function connect(url: string): { client: IRedisClient; raw: RedisClientType } {
  const raw: RedisClientType = createClient({ url, disableOfflineQueue: true });
  // A connection error is also each pending command's rejection; without a
  // listener node-redis would throw it as an uncaught 'error' event.
  raw.on("error", () => undefined);
  return { client: createNodeRedisClient(raw), raw };
}

async function closeRaw(raw: RedisClientType): Promise<void> {
  if (raw.isOpen) await raw.close().catch(() => raw.destroy());
}

/** The one queue every run and agent of this Redis shares; jobs carry their run id. */
export const QUEUE_NAME = "kiln-jobs";

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
}

/** One finished test, sent as the job's progress. */
export interface TestProgress {
  nodeid: string;
  attempt: number;
  /** What the coordinator replays (opaque here). */
  report: unknown;
}

export interface CoordinatorHandlers {
  progress(jobId: string, progress: TestProgress): void;
  completed(jobId: string): void;
  failed(jobId: string, reason: string): void;
}

/** The coordinator's side: enqueue jobs, hear their progress and ends. */
export class JobQueue {
  private constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly raws: RedisClientType[],
  ) {}

  static async open(url: string, handlers: CoordinatorHandlers): Promise<JobQueue> {
    const forQueue = connect(url);
    const forEvents = connect(url);
    const queue = new Queue(QUEUE_NAME, { connection: forQueue.client });
    const events = new QueueEvents(QUEUE_NAME, { connection: forEvents.client });
    events.on("progress", ({ jobId, data }) => {
      if (isProgress(data)) handlers.progress(jobId, data);
    });
    events.on("completed", ({ jobId }) => handlers.completed(jobId));
    events.on("failed", ({ jobId, failedReason }) => handlers.failed(jobId, failedReason));
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new JobQueue(queue, events, [forQueue.raw, forEvents.raw]);
  }

  /** Enqueued in the order given (the plan's longest first). */
  async enqueue(runId: string, jobs: readonly { id: string; nodeids: string[] }[]): Promise<void> {
    await this.queue.addBulk(
      jobs.map((job) => ({
        name: runId,
        data: { runId, nodeids: job.nodeids } satisfies JobData,
        opts: { jobId: job.id, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    await Promise.allSettled(this.raws.map(closeRaw));
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
  close(): Promise<void>;
}

export function consumeJobs(
  url: string,
  timings: QueueTimings,
  concurrency: number,
  run: (job: AgentJob) => Promise<void>,
): JobConsumer {
  const connection = connect(url);
  const worker = new Worker<JobData>(
    QUEUE_NAME,
    async (job: Job<JobData>) => {
      const attempt = job.attemptsStarted > 0 ? job.attemptsStarted : job.stalledCounter + 1;
      await run({
        id: job.id ?? "",
        data: job.data,
        attempt,
        report: (progress) => job.updateProgress({ ...progress, attempt }),
      });
    },
    {
      connection: connection.client,
      concurrency,
      lockDuration: timings.lockMs,
      stalledInterval: timings.stalledCheckMs,
      maxStalledCount: timings.maxStalls,
    },
  );
  return {
    waitUntilReady: () => worker.waitUntilReady(),
    close: async () => {
      await worker.close().catch(() => undefined);
      await closeRaw(connection.raw);
    },
  };
}

function isProgress(data: unknown): data is TestProgress {
  return (
    typeof data === "object" &&
    data !== null &&
    typeof (data as TestProgress).nodeid === "string" &&
    typeof (data as TestProgress).attempt === "number"
  );
}
