// A job's progress as kiln agent writes it and the coordinator reads it
// (bull.ts): finished tests' reports, sent in bursts as job progress and,
// the last of them, with the job's completion; each checked on the way in.
import type { TestProgress } from "./bull.js";

/** How long a report may wait for others of its job before it is sent (ms). */
export const REPORT_WINDOW_MS = 25;
/** Reports sent together at most (a bound on one progress update's size). */
export const REPORT_BURST = 100;

export interface BatchOptions {
  /** The job's tests: once each has a report, the rest goes with the job's completion. */
  nodeids: readonly string[];
  windowMs?: number;
  burst?: number;
}

/** What a job's progress update and its completion (its return value) carry. */
export interface ReportBatch {
  batch: TestProgress[];
}

export interface JobReports {
  /** Resolves once the report is written (or will go with the completion), in order. */
  report(attempt: number, progress: Omit<TestProgress, "attempt">): Promise<void>;
  /**
   * The reports not sent as progress, for the job's return value: they reach
   * the coordinator with the job's `completed` event. Resolves once every
   * earlier progress write is done (the coordinator reads them first).
   */
  completion(): Promise<ReportBatch>;
}

interface Batch {
  items: TestProgress[];
  /** Settles the batch's callers as `write` settles. */
  settle(write: Promise<unknown>): void;
  done: Promise<void>;
}

function newBatch(): Batch {
  let settle: Batch["settle"] = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (write) => write.then(() => resolve(), reject);
  });
  return { items: [], settle, done };
}

/**
 * One progress update per test was one Redis write (a BullMQ Lua call and
 * an event-stream entry), one event for the coordinator to read, parse and
 * hand to its main thread: ~1.4 reports per write were measured on the
 * bench's suite (~340 writes for its 480 tests), each costing the agent,
 * Redis and the coordinator CPU on the same two cores the tests run on; and
 * the write of a job's last reports was a round trip between the job's last
 * test and its completion, with the agent's worker idle (BENCHMARKS.md,
 * issue 15). So a job's reports wait up to `windowMs` for others and go as
 * one progress update, in order (at once when `burst` reports wait, or for
 * a pytest.exit(), nodeid ""); once every test of the job has its report,
 * what waits goes with the job's completion instead (completion()), one
 * write for both. A batch is written after the one before it. Each caller's
 * promise resolves once its report is written (or is due with the
 * completion), or rejects with its batch's error. Reports that wait die
 * with their agent, and a completion BullMQ refuses (the job's lock was
 * lost) loses its reports: either way the job runs again and its next
 * attempt reports them (the coordinator's ledger keeps the first).
 */
export function batchReports(
  send: (batch: TestProgress[]) => Promise<unknown>,
  options: BatchOptions,
): JobReports {
  const { windowMs = REPORT_WINDOW_MS, burst = REPORT_BURST } = options;
  const unreported = new Set(options.nodeids);
  let open: Batch | undefined;
  const last: TestProgress[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** The last progress write, settled either way: the next one waits for it. */
  let tail: Promise<unknown> = Promise.resolve();

  const stopTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const flush = () => {
    stopTimer();
    const batch = open;
    open = undefined;
    if (batch === undefined) return;
    const write = tail.then(() => send(batch.items));
    tail = write.catch(() => undefined);
    batch.settle(write);
  };
  /** The open batch goes with the job's completion, after the writes before it. */
  const keepForCompletion = () => {
    stopTimer();
    const batch = open;
    open = undefined;
    if (batch === undefined) return;
    last.push(...batch.items);
    batch.settle(tail);
  };

  return {
    report(attempt, progress) {
      open ??= newBatch();
      const batch = open;
      batch.items.push({ ...progress, attempt });
      unreported.delete(progress.nodeid);
      if (progress.nodeid === "" || batch.items.length >= burst) flush();
      else if (unreported.size === 0) keepForCompletion();
      else if (timer === undefined) {
        timer = setTimeout(flush, windowMs);
        // A stopping agent's unsent reports are not needed: its job is re-run
        // (agent-run.ts stopTaking), so the timer does not hold the exit.
        timer.unref();
      }
      return batch.done;
    },
    async completion() {
      keepForCompletion();
      await tail;
      return { batch: last.splice(0) };
    },
  };
}

export function isRecord(data: unknown): data is Record<string, unknown> {
  return typeof data === "object" && data !== null;
}

export function isProgress(data: unknown): data is TestProgress {
  return (
    typeof data === "object" &&
    data !== null &&
    typeof (data as TestProgress).nodeid === "string" &&
    typeof (data as TestProgress).attempt === "number"
  );
}

/** The reports in a progress update's data or a completed job's return value (ReportBatch). */
export function readBatch(data: unknown): TestProgress[] {
  const batch = isRecord(data) && Array.isArray(data.batch) ? data.batch : [];
  return batch.filter(isProgress);
}
