import { describe, expect, it } from "vitest";
import {
  categorize,
  countsLine,
  emptyCounts,
  fileOfNodeid,
  OutcomeTally,
  worstStatus,
} from "../../../src/events/outcomes.js";

describe("categorize (pytest's report_teststatus)", () => {
  it("counts call passes and failures, setup/teardown failures as errors", () => {
    expect(categorize({ when: "call", outcome: "passed", wasxfail: false })).toBe("passed");
    expect(categorize({ when: "setup", outcome: "passed", wasxfail: false })).toBeUndefined();
    expect(categorize({ when: "call", outcome: "failed", wasxfail: false })).toBe("failed");
    expect(categorize({ when: "setup", outcome: "failed", wasxfail: false })).toBe("error");
    expect(categorize({ when: "teardown", outcome: "failed", wasxfail: false })).toBe("error");
    expect(categorize({ when: "setup", outcome: "skipped", wasxfail: false })).toBe("skipped");
  });

  it("reads xfail and xpass from wasxfail", () => {
    expect(categorize({ when: "call", outcome: "skipped", wasxfail: true })).toBe("xfailed");
    expect(categorize({ when: "call", outcome: "passed", wasxfail: true })).toBe("xpassed");
  });
});

describe("countsLine", () => {
  it("orders and words like pytest's final line", () => {
    const counts = { ...emptyCounts(), passed: 14, failed: 8, skipped: 4, xfailed: 2, error: 2 };
    expect(countsLine(counts)).toBe("8 failed, 14 passed, 4 skipped, 2 xfailed, 2 errors");
    expect(countsLine({ ...emptyCounts(), error: 1, deselected: 3 })).toBe("3 deselected, 1 error");
    expect(countsLine(emptyCounts())).toBe("no tests ran");
  });
});

describe("OutcomeTally", () => {
  it("counts per test file", () => {
    const tally = new OutcomeTally();
    tally.addPhase("b.py::t", { when: "call", outcome: "failed", wasxfail: false });
    tally.addPhase("a/x.py::C::t", { when: "call", outcome: "passed", wasxfail: false });
    tally.add("a/x.py", "error");
    expect(tally.total.failed).toBe(1);
    expect(Object.keys(tally.perFileObject())).toEqual(["a/x.py", "b.py"]);
    expect(tally.perFileObject()["a/x.py"]?.error).toBe(1);
  });
});

describe("status helpers", () => {
  it("ranks error over failed over passed over skipped", () => {
    expect(worstStatus(["passed", "skipped"])).toBe("passed");
    expect(worstStatus(["failed", "error", "passed"])).toBe("error");
    expect(worstStatus([])).toBe("skipped");
    expect(fileOfNodeid("sub/test_x.py::TestA::test_b[1::2]")).toBe("sub/test_x.py");
  });
});
