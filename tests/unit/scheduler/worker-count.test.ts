// `-n auto` after collection: the count follows the expected test time.
import { describe, expect, it } from "vitest";
import {
  chooseWorkerCount,
  UNKNOWN_ITEM_S,
  WORK_PER_WORKER_S,
} from "../../../src/scheduler/worker-count.js";

const files = (count: number, perFile: number) =>
  Array.from({ length: count * perFile }, (_, i) => `t${Math.floor(i / perFile)}.py::test_${i}`);

describe("chooseWorkerCount", () => {
  it("gives a suite with almost nothing to run one worker", () => {
    const choice = chooseWorkerCount({
      cores: 2,
      items: files(2, 5),
      dist: "module",
      durations: new Map(),
    });
    expect(choice).toEqual({
      workers: 1,
      reason: "-n auto: 1 worker (10 items, no recorded durations)",
    });
  });

  it("on a first run, counts each item as a typical unit test", () => {
    const enough = Math.ceil((2 * WORK_PER_WORKER_S) / UNKNOWN_ITEM_S);
    const choice = chooseWorkerCount({
      cores: 2,
      items: files(10, Math.ceil(enough / 10)),
      dist: "module",
      durations: new Map(),
    });
    expect(choice.workers).toBe(2);
    expect(choice.reason).toContain("one per core");
  });

  it("uses the recorded durations, and their mean for items without one", () => {
    const items = files(4, 25);
    // 10 recorded items of 0.01 s: the other 90 count as 0.01 s too, 1 s in all.
    const durations = new Map(items.slice(0, 10).map((n) => [n, 0.01]));
    const choice = chooseWorkerCount({ cores: 8, items, dist: "module", durations });
    expect(choice.workers).toBe(4); // one per group: 4 files
    expect(choice.reason).toBe(
      "-n auto: 4 workers (100 items, ~1.00 s of tests expected from recorded durations, one per group)",
    );
    const quick = new Map(items.map((n) => [n, 0.0001]));
    expect(chooseWorkerCount({ cores: 8, items, dist: "module", durations: quick }).workers).toBe(
      1,
    );
  });

  it("never exceeds the cores, and ignores unusable records", () => {
    const items = files(20, 1);
    const durations = new Map<string, number>(items.map((n) => [n, 5]));
    durations.set(items[0] as string, Number.NaN);
    durations.set(items[1] as string, -1);
    const choice = chooseWorkerCount({ cores: 2, items, dist: "test", durations });
    expect(choice.workers).toBe(2);
    expect(chooseWorkerCount({ cores: 2, items: [], dist: "test", durations }).workers).toBe(1);
  });
});
