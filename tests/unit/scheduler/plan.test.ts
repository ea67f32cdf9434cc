// Dispatch order: pytest's order where it is deliberate (-n 1, --ff, --nf,
// --sw), longest-first only where it is not.
import { describe, expect, it } from "vitest";
import type { CollectedItem, WorkGroup } from "../../../src/scheduler/grouping.js";
import { contiguousGroups, type PlanInput, planGroups } from "../../../src/scheduler/plan.js";

function items(...nodeids: string[]): CollectedItem[] {
  return nodeids.map((nodeid, index) => ({ index, nodeid }));
}

/** The order a single pull-based consumer would run: groups in order, items in order. */
function runOrder(groups: WorkGroup[]): string[] {
  return groups.flatMap((g) => g.items.map((i) => i.nodeid));
}

// pytest --ff: the previous failures (b.py::f, a.py::f) first, the rest in
// collection order. Durations make slow.py the longest group by far.
const ffOrder = items(
  "a.py::f",
  "b.py::f",
  "a.py::p1",
  "a.py::p2",
  "b.py::p",
  "slow.py::s1",
  "slow.py::s2",
);
const durations = new Map([
  ["slow.py::s1", 5],
  ["slow.py::s2", 5],
  ["a.py::p1", 0.1],
  ["a.py::p2", 0.1],
  ["b.py::p", 0.1],
  ["a.py::f", 0.1],
  ["b.py::f", 0.1],
]);
const base: PlanInput = {
  items: ffOrder,
  dist: "module",
  workers: 2,
  durations,
  first: 0,
  keep: false,
};

describe("planGroups", () => {
  it("with several workers and nothing deliberate, orders longest-first (unchanged)", () => {
    const groups = planGroups(base);
    expect(groups.map((g) => g.key)).toEqual(["slow.py", "a.py", "b.py"]);
  });

  it("--ff with several workers: the previous failures are dispatched first, the rest longest-first", () => {
    const groups = planGroups({ ...base, first: 2 });
    expect(groups.map((g) => g.key)).toEqual(["a.py", "b.py", "slow.py", "a.py", "b.py"]);
    expect(runOrder(groups).slice(0, 2)).toEqual(["a.py::f", "b.py::f"]);
    // Every item once.
    expect(runOrder(groups).sort()).toEqual(ffOrder.map((i) => i.nodeid).sort());
  });

  it("--nf with several workers: new tests first and the mtime-sorted rest both keep pytest's order", () => {
    const nf = items("new.py::t1", "new.py::t2", "b.py::t", "slow.py::s1", "a.py::t");
    const groups = planGroups({ ...base, items: nf, first: 2, keep: true });
    expect(runOrder(groups)).toEqual(nf.map((i) => i.nodeid));
    expect(groups.map((g) => g.key)).toEqual(["new.py", "b.py", "slow.py", "a.py"]);
  });

  it("--sw with several workers keeps collection order despite recorded durations", () => {
    const sw = items("a.py::t1", "a.py::t2", "b.py::t", "slow.py::s1", "slow.py::s2");
    const groups = planGroups({ ...base, items: sw, first: 0, keep: true });
    expect(runOrder(groups)).toEqual(sw.map((i) => i.nodeid));
  });

  it("with one worker runs pytest's order exactly, even where it alternates between files", () => {
    for (const dist of ["module", "class", "test"] as const) {
      const groups = planGroups({ ...base, dist, workers: 1 });
      expect(runOrder(groups)).toEqual(ffOrder.map((i) => i.nodeid));
    }
  });

  it("clamps a first count outside the item list", () => {
    expect(runOrder(planGroups({ ...base, first: 99 }))).toHaveLength(ffOrder.length);
    expect(planGroups({ ...base, first: -3 }).map((g) => g.key)).toEqual([
      "slow.py",
      "a.py",
      "b.py",
    ]);
  });
});

describe("contiguousGroups", () => {
  it("splits a file's items where another file's items come between them", () => {
    const groups = contiguousGroups(items("a.py::x", "a.py::y", "b.py::z", "a.py::w"), "module");
    expect(groups.map((g) => [g.key, g.items.map((i) => i.index)])).toEqual([
      ["a.py", [0, 1]],
      ["b.py", [2]],
      ["a.py", [3]],
    ]);
  });

  it("groups by class in class mode and by item in test mode", () => {
    const list = items("t.py::A::x", "t.py::A::y", "t.py::B::x", "t.py::f");
    expect(contiguousGroups(list, "class").map((g) => g.key)).toEqual([
      "t.py::A",
      "t.py::B",
      "t.py",
    ]);
    expect(contiguousGroups(list, "test")).toHaveLength(4);
  });
});
