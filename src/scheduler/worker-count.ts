// `-n auto`: how many workers a run gets, chosen once collection is done, from
// what the run will hold (its groups) and how long its items took last time
// (the durations store). pytest-xdist's `-n auto` takes one worker per core
// whatever the suite; measured here (BENCHMARKS.md, issue 16), a second
// worker pays off even on a 0.26 s real suite (toolz: 0.34 s with two, 0.36 s
// with one), but not on a suite with almost nothing to run (10 trivial tests:
// the same 0.21 s either way, and a second fork's ~3-8 ms and memory for
// nothing). So a worker is added per WORK_PER_WORKER_S of expected test time,
// up to the cores and the number of groups.
import { type DistMode, groupItems } from "./grouping.js";

/** Expected test time that justifies one more worker (its fork and start-up). */
export const WORK_PER_WORKER_S = 0.05;
/**
 * An item nothing is recorded for, when nothing is recorded for the run at
 * all (a first run): a typical unit test's setup, call and teardown.
 */
export const UNKNOWN_ITEM_S = 0.002;

export interface WorkerCountInput {
  /** The most workers `-n auto` may start: the machine's cores. */
  cores: number;
  /** The run's node ids, in pytest's order. */
  items: readonly string[];
  dist: DistMode;
  /** Recorded seconds per nodeid (setup + call + teardown), from earlier runs. */
  durations: ReadonlyMap<string, number>;
}

export interface WorkerCountChoice {
  workers: number;
  /** What the choice was made from, for the run's output. */
  reason: string;
}

export function chooseWorkerCount(input: WorkerCountInput): WorkerCountChoice {
  const groups = groupItems(
    input.items.map((nodeid, index) => ({ index, nodeid })),
    input.dist,
  );
  let items = 0;
  let known = 0;
  let knownSeconds = 0;
  for (const group of groups) {
    for (const item of group.items) {
      items++;
      const seconds = input.durations.get(item.nodeid);
      if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) {
        known++;
        knownSeconds += seconds;
      }
    }
  }
  // Items without a record count as the recorded mean (a run's new tests
  // look like its old ones), or as a typical unit test on a first run.
  const perUnknown = known > 0 ? knownSeconds / known : UNKNOWN_ITEM_S;
  const expected = knownSeconds + (items - known) * perUnknown;
  const ceiling = Math.max(1, Math.min(input.cores, groups.length));
  const workers = Math.max(1, Math.min(ceiling, Math.floor(expected / WORK_PER_WORKER_S)));
  const basis =
    known === 0
      ? `${items} item${items === 1 ? "" : "s"}, no recorded durations`
      : `${items} item${items === 1 ? "" : "s"}, ~${formatSeconds(expected)} of tests expected from recorded durations`;
  const limit =
    workers === ceiling && ceiling > 1
      ? `, ${ceiling === input.cores ? "one per core" : `one per group`}`
      : "";
  return {
    workers,
    reason: `-n auto: ${workers} worker${workers === 1 ? "" : "s"} (${basis}${limit})`,
  };
}

function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${Math.round(seconds)} s`;
}
