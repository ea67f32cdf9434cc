import { describe, expect, it } from "vitest";
import { InOrder } from "../../../src/queue/in-order.js";
import type { AgentReport } from "../../../src/queue/wire.js";

type TestReport = Exclude<AgentReport, { kind: "exit" }>;

function finished(outcome: "passed" | "failed", wasxfail = false): TestReport {
  return {
    kind: "finished",
    agent: "a:1",
    location: [],
    reports: [{ when: "call", outcome, duration: 0, wasxfail }],
    format: "json",
    body: "",
  };
}

describe("InOrder (-x / --maxfail through the queue)", () => {
  it("replays in pytest's order whatever order reports come in", () => {
    const seen: string[] = [];
    const order = new InOrder(["a", "b", "c"], 5, (nodeid) => seen.push(nodeid));
    expect(order.add("c", finished("passed"))).toBe(false);
    expect(order.add("b", finished("passed"))).toBe(false);
    expect(seen).toEqual([]);
    expect(order.add("a", finished("passed"))).toBe(false);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("stops at the test pytest stops at: a later report that came first is never replayed", () => {
    const seen: string[] = [];
    const order = new InOrder(["a", "b", "c", "d"], 1, (nodeid) => seen.push(nodeid));
    order.add("d", finished("failed"));
    order.add("c", finished("passed"));
    order.add("a", finished("passed"));
    expect(order.add("b", finished("failed"))).toBe(true);
    expect(seen).toEqual(["a", "b"]);
    expect(order.add("e", finished("passed"))).toBe(true);
    expect(seen).toEqual(["a", "b"]);
  });

  it("counts failed reports as pytest does: an xfail is none, a crash is one", () => {
    const seen: string[] = [];
    const order = new InOrder(["a", "b", "c"], 2, (nodeid) => seen.push(nodeid));
    expect(order.add("a", finished("failed", true))).toBe(false);
    const crash: TestReport = {
      kind: "crashed",
      agent: "",
      when: "call",
      message: "x",
      duration: 0,
    };
    expect(order.add("b", crash)).toBe(false);
    expect(order.add("c", finished("failed"))).toBe(true);
    expect(seen).toEqual(["a", "b", "c"]);
  });
});
