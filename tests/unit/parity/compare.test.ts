import { describe, expect, it } from "vitest";
import {
  compareOutcomes,
  compareRuns,
  countOutcomes,
  formatCounts,
  formatDifference,
  parseOutcomesFile,
} from "../../../src/parity/compare.js";

describe("compareRuns", () => {
  it("finds nothing when outcomes and exit codes match", () => {
    const run = { exitCode: 1, outcomes: { "t.py::a": "passed", "t.py::b": "failed" } };
    expect(compareRuns(run, { exitCode: 1, outcomes: { ...run.outcomes } })).toEqual([]);
  });

  it("ignores the order nodeids were recorded in", () => {
    const a = { exitCode: 0, outcomes: { "t.py::a": "passed", "t.py::b": "skipped" } };
    const b = { exitCode: 0, outcomes: { "t.py::b": "skipped", "t.py::a": "passed" } };
    expect(compareRuns(a, b)).toEqual([]);
  });

  it("reports an exit code difference first, then nodeids in sorted order", () => {
    const pytest = {
      exitCode: 1,
      outcomes: { "z.py::t": "passed", "a.py::t": "failed", "m.py::t": "xfailed" },
    };
    const kiln = {
      exitCode: 2,
      outcomes: { "z.py::t": "failed", "m.py::t": "xfailed", "b.py::t": "passed" },
    };
    expect(compareRuns(pytest, kiln)).toEqual([
      { kind: "exit-code", pytest: 1, kiln: 2 },
      { kind: "missing-in-kiln", nodeid: "a.py::t", pytest: "failed" },
      { kind: "missing-in-pytest", nodeid: "b.py::t", kiln: "passed" },
      { kind: "outcome", nodeid: "z.py::t", pytest: "passed", kiln: "failed" },
    ]);
  });

  it("treats a killed process (null exit code) as its own exit code", () => {
    expect(compareRuns({ exitCode: 1, outcomes: {} }, { exitCode: null, outcomes: {} })).toEqual([
      { kind: "exit-code", pytest: 1, kiln: null },
    ]);
  });

  it("compares combined outcomes as plain strings", () => {
    expect(
      compareOutcomes({ "t.py::a": "passed+error" }, { "t.py::a": "passed" }).map((d) =>
        formatDifference(d),
      ),
    ).toEqual(["t.py::a: pytest=passed+error kiln=passed"]);
  });

  it("does not mistake inherited object properties for nodeids", () => {
    expect(compareOutcomes({ constructor: "passed" }, {})).toEqual([
      { kind: "missing-in-kiln", nodeid: "constructor", pytest: "passed" },
    ]);
    expect(compareOutcomes({}, { toString: "failed" })).toEqual([
      { kind: "missing-in-pytest", nodeid: "toString", kiln: "failed" },
    ]);
  });
});

describe("formatDifference", () => {
  it("formats every kind", () => {
    expect(
      formatDifference({ kind: "outcome", nodeid: "t.py::a", pytest: "failed", kiln: "passed" }),
    ).toBe("t.py::a: pytest=failed kiln=passed");
    expect(
      formatDifference({ kind: "missing-in-kiln", nodeid: "t.py::a", pytest: "skipped" }),
    ).toBe("t.py::a: pytest=skipped kiln=(missing)");
    expect(
      formatDifference({ kind: "missing-in-pytest", nodeid: "t.py", kiln: "collect-error" }),
    ).toBe("t.py: pytest=(missing) kiln=collect-error");
    expect(formatDifference({ kind: "exit-code", pytest: 1, kiln: null })).toBe(
      "exit code: pytest=1 kiln=(killed)",
    );
  });

  it("accepts other side labels", () => {
    expect(
      formatDifference(
        { kind: "outcome", nodeid: "t.py::a", pytest: "failed", kiln: "passed" },
        { pytest: "expected", kiln: "pytest" },
      ),
    ).toBe("t.py::a: expected=failed pytest=passed");
  });
});

describe("counts", () => {
  it("counts outcomes and formats them sorted by name", () => {
    const outcomes = { a: "passed", b: "failed", c: "passed", d: "xfailed" };
    expect(countOutcomes(outcomes)).toEqual({ passed: 2, failed: 1, xfailed: 1 });
    expect(formatCounts(outcomes)).toBe("1 failed, 2 passed, 1 xfailed");
    expect(formatCounts({})).toBe("no tests");
  });
});

describe("parseOutcomesFile", () => {
  it("reads what the recorder writes", () => {
    const text = JSON.stringify({ exit_code: 1, outcomes: { "t.py::a": "failed" } });
    expect(parseOutcomesFile(text)).toEqual({ exitCode: 1, outcomes: { "t.py::a": "failed" } });
  });

  it("rejects malformed files", () => {
    expect(() => parseOutcomesFile("[]")).toThrow(/not a JSON object/);
    expect(() => parseOutcomesFile('{"outcomes": {}}')).toThrow(/exit_code/);
    expect(() => parseOutcomesFile('{"exit_code": 1.5, "outcomes": {}}')).toThrow(/exit_code/);
    expect(() => parseOutcomesFile('{"exit_code": 0}')).toThrow(/outcomes/);
    expect(() => parseOutcomesFile('{"exit_code": 0, "outcomes": {"a": 1}}')).toThrow(/"a"/);
    expect(() => parseOutcomesFile("{")).toThrow();
  });
});
