import { describe, expect, it } from "vitest";
import type { WorkGroup } from "../../../src/scheduler/grouping.js";
import { median, orderGroups } from "../../../src/scheduler/ordering.js";

let nextIndex = 0;
function group(key: string, ...names: string[]): WorkGroup {
  return { key, items: names.map((name) => ({ index: nextIndex++, nodeid: `${key}::${name}` })) };
}

function keys(groups: WorkGroup[]): string[] {
  return groups.map((g) => g.key);
}

describe("orderGroups", () => {
  const a = group("a.py", "t1", "t2");
  const b = group("b.py", "t1");
  const c = group("c.py", "t1", "t2", "t3");

  it("puts the longest total expected duration first", () => {
    const durations = new Map([
      ["a.py::t1", 1],
      ["a.py::t2", 1],
      ["b.py::t1", 5],
      ["c.py::t1", 0.5],
      ["c.py::t2", 0.5],
      ["c.py::t3", 0.5],
    ]);
    expect(keys(orderGroups([a, b, c], durations))).toEqual(["b.py", "a.py", "c.py"]);
  });

  it("keeps collection order when no durations are known", () => {
    expect(keys(orderGroups([a, b, c], new Map()))).toEqual(["a.py", "b.py", "c.py"]);
    // Records only for tests that are not in this run count as unknown, too.
    expect(keys(orderGroups([a, b, c], new Map([["gone.py::t", 9]])))).toEqual([
      "a.py",
      "b.py",
      "c.py",
    ]);
  });

  it("is stable: ties keep their original order", () => {
    const durations = new Map([
      ["a.py::t1", 1],
      ["a.py::t2", 1],
      ["b.py::t1", 2],
      ["c.py::t1", 1],
      ["c.py::t2", 1],
      ["c.py::t3", 0],
    ]);
    expect(keys(orderGroups([c, a, b], durations))).toEqual(["c.py", "a.py", "b.py"]);
    expect(keys(orderGroups([a, c, b], durations))).toEqual(["a.py", "c.py", "b.py"]);
  });

  it("estimates unknown tests as the median of known ones", () => {
    // Known: 1, 3, 10 → median 3. a = 1 + 3(est) = 4; b = 3(est); c = 3+10+3(est) = 16.
    const durations = new Map([
      ["a.py::t1", 1],
      ["c.py::t1", 3],
      ["c.py::t2", 10],
    ]);
    expect(keys(orderGroups([a, b, c], durations))).toEqual(["c.py", "a.py", "b.py"]);
  });

  it("lets many unknown tests outweigh one known slow test", () => {
    const many = group("many.py", "t1", "t2", "t3", "t4", "t5", "t6");
    const slow = group("slow.py", "t1", "t2");
    // Known: 4, 1, 1 → median 1. many = 1 + 5 × 1 = 6; slow = 4 + 1 = 5.
    const durations = new Map([
      ["slow.py::t1", 4],
      ["slow.py::t2", 1],
      ["many.py::t1", 1],
    ]);
    expect(keys(orderGroups([slow, many], durations))).toEqual(["many.py", "slow.py"]);
  });

  it("treats non-finite or negative records as unknown", () => {
    const durations = new Map([
      ["a.py::t1", Number.NaN],
      ["a.py::t2", -5],
      ["b.py::t1", Number.POSITIVE_INFINITY],
    ]);
    expect(keys(orderGroups([a, b, c], durations))).toEqual(["a.py", "b.py", "c.py"]);
  });

  it("returns a new array and leaves its inputs alone", () => {
    const input = [a, b, c];
    const out = orderGroups(input, new Map([["c.py::t1", 9]]));
    expect(out).not.toBe(input);
    expect(keys(input)).toEqual(["a.py", "b.py", "c.py"]);
    expect(out[0]).toBe(c);
    expect(orderGroups(input, new Map())).not.toBe(input);
  });

  it("handles no groups", () => {
    expect(orderGroups([], new Map([["x", 1]]))).toEqual([]);
  });
});

describe("median", () => {
  it.each([
    [[], 0],
    [[7], 7],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[0.1, 0.1, 100], 0.1],
  ])("median(%j) = %d", (values, expected) => {
    expect(median(values)).toBeCloseTo(expected);
  });

  it("does not sort its input in place", () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
