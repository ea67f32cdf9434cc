import { describe, expect, it } from "vitest";
import type { WorkGroup } from "../../../src/scheduler/grouping.js";
import { WorkQueue } from "../../../src/scheduler/work-queue.js";

let nextIndex = 0;
function group(key: string, size: number): WorkGroup {
  return {
    key,
    items: Array.from({ length: size }, (_, i) => ({
      index: nextIndex++,
      nodeid: `${key}::t${i}`,
    })),
  };
}

describe("WorkQueue", () => {
  it("hands out groups in order, then undefined", () => {
    const groups = [group("a.py", 2), group("b.py", 1), group("c.py", 3)];
    const queue = new WorkQueue(groups);
    expect(queue.remaining).toBe(6);
    expect(queue.next()).toBe(groups[0]);
    expect(queue.remaining).toBe(4);
    expect(queue.next()).toBe(groups[1]);
    expect(queue.next()).toBe(groups[2]);
    expect(queue.remaining).toBe(0);
    expect(queue.next()).toBeUndefined();
    expect(queue.next()).toBeUndefined();
  });

  it("does not mutate the groups array it was given", () => {
    const groups = [group("a.py", 1), group("b.py", 1)];
    const queue = new WorkQueue(groups);
    queue.next();
    expect(groups.map((g) => g.key)).toEqual(["a.py", "b.py"]);
  });

  it("skips empty groups", () => {
    const queue = new WorkQueue([group("empty.py", 0), group("a.py", 1)]);
    expect(queue.next()?.key).toBe("a.py");
    expect(queue.next()).toBeUndefined();
  });

  it("requeues a crashed worker's unfinished items at the front as one group", () => {
    const a = group("a.py", 4);
    const b = group("b.py", 1);
    const queue = new WorkQueue([a, b]);
    const taken = queue.next();
    expect(taken).toBe(a);
    // The worker crashed on the second item: it and the rest go back.
    const rest = a.items.slice(1);
    queue.requeueFront(rest);
    expect(queue.remaining).toBe(4);
    const retry = queue.next();
    expect(retry?.key).toBe("a.py");
    expect(retry?.items).toEqual(rest);
    expect(retry?.items).not.toBe(rest);
    expect(queue.next()).toBe(b);
    expect(queue.next()).toBeUndefined();
  });

  it("requeues ahead of everything, even after the queue ran dry", () => {
    const a = group("a.py", 2);
    const queue = new WorkQueue([a]);
    queue.next();
    expect(queue.next()).toBeUndefined();
    queue.requeueFront(a.items);
    expect(queue.remaining).toBe(2);
    expect(queue.next()?.items).toEqual(a.items);
  });

  it("uses the first nodeid as key for items it never handed out", () => {
    const queue = new WorkQueue([]);
    queue.requeueFront([{ index: 99, nodeid: "x.py::t" }]);
    expect(queue.next()?.key).toBe("x.py::t");
  });

  it("ignores an empty requeue", () => {
    const queue = new WorkQueue([group("a.py", 1)]);
    queue.requeueFront([]);
    expect(queue.remaining).toBe(1);
    expect(queue.next()?.key).toBe("a.py");
    expect(queue.next()).toBeUndefined();
  });

  it("stops handing out work after stop() and returns what was never run", () => {
    const groups = [group("a.py", 1), group("b.py", 2), group("c.py", 3)];
    const queue = new WorkQueue(groups);
    queue.next();
    expect(queue.stopped).toBe(false);
    const dropped = queue.stop();
    expect(queue.stopped).toBe(true);
    expect(dropped).toEqual([groups[1], groups[2]]);
    expect(queue.remaining).toBe(0);
    expect(queue.next()).toBeUndefined();
    queue.requeueFront(groups[0]?.items ?? []);
    expect(queue.next()).toBeUndefined();
    expect(queue.remaining).toBe(0);
    expect(queue.stop()).toEqual([]);
  });

  it("hands out a large queue with O(1) operations", () => {
    const groups = Array.from({ length: 20_000 }, (_, i) => group(`m${i}.py`, 1));
    const queue = new WorkQueue(groups);
    let count = 0;
    for (let g = queue.next(); g; g = queue.next()) {
      count++;
      if (count % 10 === 0) {
        queue.requeueFront(g.items);
        expect(queue.next()?.key).toBe(g.key);
      }
    }
    expect(count).toBe(20_000);
  });
});
