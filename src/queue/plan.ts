// `kiln test --queue`: the jobs a coordinator enqueues. One job is one
// group as --dist defines it (scheduler/grouping.ts: a group's tests share
// their module or class fixtures, so they run in one worker, in order), and
// the jobs go in longest first by recorded durations (scheduler/ordering.ts),
// as the local scheduler hands out groups: the slowest group starts early
// instead of becoming the tail of the run.
import { type DistMode, groupItems } from "../scheduler/grouping.js";
import { orderGroups } from "../scheduler/ordering.js";

export interface JobSpec {
  /** Unique in the queue: the run id and the job's position (BullMQ refuses ":" in an id). */
  id: string;
  /** Positions in the coordinator's collected items, in run order. */
  indices: number[];
  nodeids: string[];
}

export function planJobs(
  runId: string,
  items: readonly string[],
  dist: DistMode,
  durations: ReadonlyMap<string, number>,
): JobSpec[] {
  const groups = groupItems(
    items.map((nodeid, index) => ({ index, nodeid })),
    dist,
  );
  return orderGroups(groups, durations).map((group, position) => ({
    id: `${runId}-${position}`,
    indices: group.items.map((item) => item.index),
    nodeids: group.items.map((item) => item.nodeid),
  }));
}
