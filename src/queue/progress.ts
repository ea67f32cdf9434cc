// A job's progress as kiln agent writes it and the coordinator reads it
// (bull.ts): finished tests' reports, batched per write, each checked on
// the way in.
import type { TestProgress } from "./bull.js";

/**
 * One progress update per test would be one Redis round trip per test (and
 * one event for the coordinator to read): reports that arrive while the
 * previous update is being written go together in the next one, in order.
 * Each caller's promise resolves once its report is written.
 */
export function batchReports(
  send: (batch: TestProgress[]) => Promise<unknown>,
): (attempt: number, progress: Omit<TestProgress, "attempt">) => Promise<void> {
  let pending: TestProgress[] = [];
  let running: Promise<void> | undefined;
  return (attempt, progress) => {
    pending.push({ ...progress, attempt });
    running ??= (async () => {
      try {
        while (pending.length > 0) {
          const batch = pending;
          pending = [];
          await send(batch);
        }
      } finally {
        // Set in the same synchronous step as the loop's last check: a
        // report pushed after it starts a new writer.
        running = undefined;
      }
    })();
    return running;
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
