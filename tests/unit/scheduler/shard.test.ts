import { describe, expect, it } from "vitest";
import {
  parseShard,
  ShardSpecError,
  splitShards,
  unknownEstimate,
} from "../../../src/scheduler/shard.js";

const ids = (plan: number[][], nodeids: string[]) =>
  plan.map((shard) => shard.map((i) => nodeids[i]));

describe("parseShard", () => {
  it("reads I/N, 1-based", () => {
    expect(parseShard("1/2")).toEqual({ index: 1, count: 2 });
    expect(parseShard(" 3/3 ")).toEqual({ index: 3, count: 3 });
  });
  it.each(["0/2", "3/2", "1/0", "a/b", "1", "1/2/3", "-1/2", "1.5/2", ""])(
    "refuses %j with a usage error",
    (text) => {
      expect(() => parseShard(text)).toThrow(ShardSpecError);
    },
  );
});

describe("splitShards", () => {
  it("gives each test, longest first, to the least loaded shard", () => {
    const nodeids = ["a", "b", "c", "d", "e"];
    const durations = new Map([
      ["a", 5],
      ["b", 4],
      ["c", 3],
      ["d", 3],
      ["e", 1],
    ]);
    const plan = splitShards(nodeids, durations, 2);
    // a→0 (5), b→1 (4), c→1 (7), d→0 (8), e→1 (8)
    expect(ids(plan.shards, nodeids)).toEqual([
      ["a", "d"],
      ["b", "c", "e"],
    ]);
    expect(plan.expected).toEqual([8, 8]);
  });

  it("estimates tests without a record as the mean of the recorded ones", () => {
    const nodeids = ["known1", "known2", "new"];
    const durations = new Map([
      ["known1", 1],
      ["known2", 3],
    ]);
    const plan = splitShards(nodeids, durations, 3);
    // new is estimated at 2: known2 (3) → 0, new (2) → 1, known1 (1) → 2
    expect(ids(plan.shards, nodeids)).toEqual([["known2"], ["new"], ["known1"]]);
    expect(plan.expected).toEqual([3, 2, 1]);
    expect(unknownEstimate([])).toBe(1);
  });

  it("does not depend on collection order", () => {
    const nodeids = ["t1", "t2", "t3", "t4", "t5", "t6"];
    const durations = new Map([
      ["t1", 2],
      ["t4", 2],
    ]);
    const forward = ids(splitShards(nodeids, durations, 3).shards, nodeids).map((s) => s.sort());
    const reversed = [...nodeids].reverse();
    const backward = ids(splitShards(reversed, durations, 3).shards, reversed).map((s) => s.sort());
    expect(backward).toEqual(forward);
  });

  it("covers every position exactly once and keeps input order within a shard", () => {
    const nodeids = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const durations = new Map(nodeids.map((id, i) => [id, (i * 7) % 11]));
    const { shards } = splitShards(nodeids, durations, 4);
    const all = shards.flat().sort((a, b) => a - b);
    expect(all).toEqual(nodeids.map((_, i) => i));
    for (const shard of shards) expect(shard).toEqual([...shard].sort((a, b) => a - b));
  });

  it("leaves shards empty when there are fewer tests than shards", () => {
    const plan = splitShards(["only"], new Map(), 3);
    expect(plan.shards).toEqual([[0], [], []]);
  });

  it("ignores unusable records (negative, NaN) like missing ones", () => {
    const nodeids = ["a", "b"];
    const plan = splitShards(
      nodeids,
      new Map([
        ["a", -1],
        ["b", Number.NaN],
      ]),
      2,
    );
    expect(plan.expected).toEqual([1, 1]);
  });
});
