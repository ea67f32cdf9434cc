// Orders groups longest-first from recorded durations, so the slowest group
// starts early instead of becoming the tail that keeps one worker busy after
// the others have finished (the classic LPT heuristic).
import type { WorkGroup } from "./grouping.js";

/**
 * Sort groups by expected duration, longest first. Items without a record are
 * estimated as the median of the recorded items in this run. Ties keep their
 * input order; with no records for any item, the input order is returned.
 */
export function orderGroups(
  groups: readonly WorkGroup[],
  durations: ReadonlyMap<string, number>,
): WorkGroup[] {
  const known: number[] = [];
  for (const group of groups) {
    for (const item of group.items) {
      const seconds = recorded(durations, item.nodeid);
      if (seconds !== undefined) known.push(seconds);
    }
  }
  if (known.length === 0) return [...groups];
  const estimate = median(known);
  const expected = groups.map((group, position) => ({
    group,
    position,
    total: group.items.reduce(
      (sum, item) => sum + (recorded(durations, item.nodeid) ?? estimate),
      0,
    ),
  }));
  // Array.prototype.sort is stable; the position tiebreak states the intent.
  expected.sort((a, b) => b.total - a.total || a.position - b.position);
  return expected.map((entry) => entry.group);
}

/** A usable record: finite and non-negative, anything else counts as unknown. */
function recorded(durations: ReadonlyMap<string, number>, nodeid: string): number | undefined {
  const seconds = durations.get(nodeid);
  return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
