import { describe, expect, it } from "vitest";
import { ResultLedger } from "../../../src/queue/ledger.js";
import { planJobs } from "../../../src/queue/plan.js";
import { readAgentReport } from "../../../src/queue/wire.js";

describe("planJobs", () => {
  it("makes one job per --dist group, longest first by recorded durations", () => {
    const items = ["a.py::t1", "a.py::t2", "b.py::t1", "c.py::t1"];
    const durations = new Map([
      ["a.py::t1", 1],
      ["a.py::t2", 1],
      ["b.py::t1", 5],
      ["c.py::t1", 0.5],
    ]);
    const jobs = planJobs("run1", items, "module", durations);
    expect(jobs).toEqual([
      { id: "run1-0", indices: [2], nodeids: ["b.py::t1"] },
      { id: "run1-1", indices: [0, 1], nodeids: ["a.py::t1", "a.py::t2"] },
      { id: "run1-2", indices: [3], nodeids: ["c.py::t1"] },
    ]);
    expect(planJobs("r", items, "test", new Map())).toHaveLength(4);
  });
});

describe("ResultLedger", () => {
  const jobs = () => [
    { id: "r-0", indices: [0, 1, 2], nodeids: ["a::1", "a::2", "a::3"] },
    { id: "r-1", indices: [3], nodeids: ["b::1"] },
  ];

  it("accepts each test once: a re-taken job's re-reports are duplicates", () => {
    const ledger = new ResultLedger(jobs());
    // Attempt 1 reports a::1, then its agent is killed; attempt 2 runs the group again.
    expect(ledger.accept("r-0", 1, "a::1")).toBe("first");
    expect(ledger.accept("r-0", 2, "a::1")).toBe("duplicate");
    expect(ledger.accept("r-0", 2, "a::2")).toBe("first");
    expect(ledger.accept("r-0", 2, "a::3")).toBe("first");
    expect(ledger.attemptsOf("r-0")).toBe(2);
    expect(ledger.done).toBe(false);
    expect(ledger.accept("r-1", 1, "b::1")).toBe("first");
    expect(ledger.done).toBe(true);
  });

  it("drops a report for a test the job does not hold", () => {
    const ledger = new ResultLedger(jobs());
    expect(ledger.accept("r-1", 1, "a::1")).toBe("foreign");
    expect(ledger.accept("other-0", 1, "a::1")).toBe("foreign");
    expect(ledger.unreported().sort()).toEqual(["a::1", "a::2", "a::3", "b::1"]);
  });

  it("an exhausted job: the running test crashed, the rest run again", () => {
    const ledger = new ResultLedger(jobs());
    ledger.accept("r-0", 1, "a::1");
    // a::2 kills every agent that runs it.
    expect(ledger.exhausted("r-0")).toEqual({ crashed: "a::2", requeue: ["a::3"] });
    expect(ledger.unreported().sort()).toEqual(["a::3", "b::1"]);
    ledger.add({ id: "r-0-rest", indices: [2], nodeids: ["a::3"] });
    expect(ledger.accept("r-0-rest", 1, "a::3")).toBe("first");
    // A late report of the crashed test (its dead attempt's) is a duplicate.
    expect(ledger.accept("r-0", 3, "a::2")).toBe("duplicate");
    expect(() => ledger.add({ id: "r-1", indices: [], nodeids: [] })).toThrow(/bug in kiln/);
  });
});

describe("the ledger's questions for the coordinator (queue/coordinator-run.ts)", () => {
  it("owns only its run's jobs, lists a job's unreported tests and the jobs holding tests", () => {
    const jobs = planJobs("r", ["a.py::1", "a.py::2", "b.py::1"], "module", new Map());
    const ledger = new ResultLedger(jobs);
    expect(ledger.owns("r-0")).toBe(true);
    expect(ledger.owns("other-0")).toBe(false);
    const [first] = jobs;
    ledger.accept(first?.id ?? "", 1, first?.nodeids[0] ?? "");
    expect(ledger.unreportedOf(first?.id ?? "")).toEqual(first?.nodeids.slice(1));
    expect(ledger.jobIdsWith(["b.py::1"])).toEqual(
      jobs.filter((job) => job.nodeids.includes("b.py::1")).map((job) => job.id),
    );
  });
});

describe("an agent's report as the coordinator reads it (queue/wire.ts)", () => {
  it("takes what kiln agent sends and refuses anything else, saying what is wrong", () => {
    const report = {
      kind: "crashed",
      agent: "host:1",
      when: "call",
      message: "worker died",
      duration: 0.5,
    };
    expect(readAgentReport(report)).toEqual(report);
    expect(typeof readAgentReport({ ...report, when: "later" })).toBe("string");
    expect(typeof readAgentReport({ kind: "finished", agent: "x" })).toBe("string");
  });
});
