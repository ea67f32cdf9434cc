// The order in which groups are handed out. pytest's own order wins where it
// is deliberate; longest-first (ordering.ts) only fills in where it is not.
//
// - One worker runs pytest's item order exactly: groups are the maximal runs
//   of consecutive items with the same key, so an order that alternates
//   between files (--ff puts failures from several files first) is not merged
//   back per file. `nextitem` spans groups in the worker, so fixtures are set
//   up and torn down exactly as serial pytest does (runner.py's SetupState).
// - Several workers: the items pytest's cache plugins put first (--ff: the
//   previous failures, --nf: new tests; kiln_harness/cache_order.py) are
//   grouped on their own and dispatched first, in pytest's order. The rest is
//   ordered longest-first, unless its order is deliberate too (--nf sorts it
//   by file mtime; --sw needs collection order to mean "stop at the first
//   failure"), in which case it keeps pytest's order.
import {
  type CollectedItem,
  classKey,
  type DistMode,
  groupItems,
  moduleKey,
  type WorkGroup,
} from "./grouping.js";
import { orderGroups } from "./ordering.js";

export interface PlanInput {
  /** pytest's final item order (after pytest_collection_modifyitems). */
  items: readonly CollectedItem[];
  dist: DistMode;
  workers: number;
  durations: ReadonlyMap<string, number>;
  /** Leading items pytest put first on purpose (0: none). */
  first: number;
  /** The order of the remaining items is deliberate: do not reorder it. */
  keep: boolean;
}

export function planGroups(input: PlanInput): WorkGroup[] {
  const { items, dist } = input;
  if (input.workers <= 1) return contiguousGroups(items, dist);
  const first = Math.min(Math.max(0, Math.trunc(input.first)), items.length);
  const head = groupItems(items.slice(0, first), dist);
  const restGroups = groupItems(items.slice(first), dist);
  const rest = input.keep ? restGroups : orderGroups(restGroups, input.durations);
  return [...head, ...rest];
}

/** Maximal runs of consecutive items with the same group key, in order. */
export function contiguousGroups(items: readonly CollectedItem[], mode: DistMode): WorkGroup[] {
  if (mode === "test") return items.map((item) => ({ key: item.nodeid, items: [item] }));
  const keyOf = mode === "module" ? moduleKey : classKey;
  const groups: WorkGroup[] = [];
  let current: WorkGroup | undefined;
  for (const item of items) {
    const key = keyOf(item.nodeid);
    if (current !== undefined && current.key === key) {
      current.items.push(item);
    } else {
      current = { key, items: [item] };
      groups.push(current);
    }
  }
  return groups;
}
