// A job's progress as kiln agent writes it and the coordinator reads it
// (bull.ts): finished tests' reports, sent in bursts, each checked on the
// way in.
import type { TestProgress } from "./bull.js";

/** How long a report may wait for others of its job before it is sent (ms). */
export const REPORT_WINDOW_MS = 25;
/** Reports sent together at most (a bound on one progress update's size). */
export const REPORT_BURST = 100;

export interface BatchOptions {
  /** The job's tests: once each has a report, the batch goes at once. */
  nodeids: readonly string[];
  windowMs?: number;
  burst?: number;
}

/**
 * One progress update per test was one Redis write (a BullMQ Lua call and
 * an event-stream entry), one event for the coordinator to read, parse and
 * hand to its main thread: ~1.4 reports per write were measured on the
 * bench's suite (~340 writes for its 480 tests), each write costing
 * the agent, Redis and the coordinator CPU on the same two cores the tests
 * run on (BENCHMARKS.md, issue 15). So a job's reports wait up to
 * `windowMs` for others and go as one update, in order; the batch goes at
 * once when the job's last test is in (the job completes only after it,
 * so no run waits for the window), when `burst` reports wait, or for a
 * pytest.exit() (nodeid ""). A batch is written after the one before it
 * (the coordinator reads them in order). Each caller's promise resolves
 * once its report is written, or rejects with its batch's error.
 */
export function batchReports(
  send: (batch: TestProgress[]) => Promise<unknown>,
  options: BatchOptions,
): (attempt: number, progress: Omit<TestProgress, "attempt">) => Promise<void> {
  const { windowMs = REPORT_WINDOW_MS, burst = REPORT_BURST } = options;
  const unreported = new Set(options.nodeids);
  let pending: TestProgress[] = [];
  /** Starts the pending batch's write; its callers hold `written`. */
  let start: (() => void) | undefined;
  let written: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  /** The last batch's write, settled either way: the next one waits for it. */
  let tail: Promise<unknown> = Promise.resolve();

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    start?.();
    start = undefined;
  };

  return (attempt, progress) => {
    if (start === undefined) {
      const batch: TestProgress[] = [];
      pending = batch;
      written = new Promise<void>((resolve, reject) => {
        start = () => {
          const write = tail.then(() => send(batch));
          tail = write.catch(() => undefined);
          write.then(() => resolve(), reject);
        };
      });
    }
    pending.push({ ...progress, attempt });
    unreported.delete(progress.nodeid);
    const mine = written;
    if (unreported.size === 0 || progress.nodeid === "" || pending.length >= burst) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, windowMs);
      // A stopping agent's unsent reports are not needed: its job is re-run
      // (agent-run.ts stopTaking), so the timer does not hold the exit.
      timer.unref();
    }
    return mine;
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
