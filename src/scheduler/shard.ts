// `kiln test --shard I/N`: which collected items shard I of N runs, when the
// machines cannot talk to each other (no Redis). Every shard collects the
// whole suite and computes the same split from the same inputs, then keeps
// its own part; the split must therefore depend only on the set of node ids
// and the durations file, never on collection order (--ff or -p random
// order may differ between machines) nor on anything machine-local.
// The algorithm is pytest-split's "least_duration": tests, longest first,
// each go to the shard with the least total so far; a test without a
// recorded duration is estimated as the mean of the recorded ones
// (pytest-split does the same), or 1 s when none is recorded.

export interface ShardSpec {
  /** 1-based, as pytest-split's --group and the CLI's I/N. */
  index: number;
  count: number;
}

export class ShardSpecError extends Error {}

/** "2/3" → {index: 2, count: 3}; anything else is a usage error. */
export function parseShard(text: string): ShardSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : Number.NaN;
  const count = match ? Number(match[2]) : Number.NaN;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1) {
    throw new ShardSpecError(
      `--shard expects I/N (this machine's shard I of N, counted from 1), got ${JSON.stringify(text)}`,
    );
  }
  if (index < 1 || index > count) {
    throw new ShardSpecError(`--shard ${text}: the shard number must be between 1 and ${count}`);
  }
  return { index, count };
}

export interface ShardPlan {
  /** Per shard (0-based), the positions in `nodeids` it runs, in the input order. */
  shards: number[][];
  /** Per shard, the expected seconds (recorded or estimated). */
  expected: number[];
}

/** What a test without a usable record is expected to take. */
export function unknownEstimate(values: readonly number[]): number {
  if (values.length === 0) return 1;
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

export function splitShards(
  nodeids: readonly string[],
  durations: ReadonlyMap<string, number>,
  count: number,
): ShardPlan {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new Error(`this is a bug in kiln: splitShards with ${count} shards`);
  }
  const known: number[] = [];
  for (const nodeid of nodeids) {
    const seconds = usable(durations.get(nodeid));
    if (seconds !== undefined) known.push(seconds);
  }
  const estimate = unknownEstimate(known);
  const entries = nodeids.map((nodeid, position) => ({
    nodeid,
    position,
    seconds: usable(durations.get(nodeid)) ?? estimate,
  }));
  // Longest first; equal durations by node id, never by position, so two
  // machines whose collection order differs still agree. Duplicate node ids
  // (pytest allows them with a path given twice) tie-break by position.
  entries.sort(
    (a, b) =>
      b.seconds - a.seconds ||
      (a.nodeid < b.nodeid ? -1 : a.nodeid > b.nodeid ? 1 : 0) ||
      a.position - b.position,
  );
  const shards: number[][] = Array.from({ length: count }, () => []);
  const expected: number[] = new Array<number>(count).fill(0);
  for (const entry of entries) {
    // The least loaded shard; ties go to the lowest number. O(n·count) is
    // fine: count is a handful of CI machines.
    let best = 0;
    for (let shard = 1; shard < count; shard++) {
      if ((expected[shard] as number) < (expected[best] as number)) best = shard;
    }
    (shards[best] as number[]).push(entry.position);
    expected[best] = (expected[best] as number) + entry.seconds;
  }
  for (const shard of shards) shard.sort((a, b) => a - b);
  return { shards, expected };
}

function usable(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
