import { describe, expect, it } from "vitest";
import type { PreparedSelection } from "../../../src/daemon/affected-run.js";
import type { RunPlan } from "../../../src/daemon/watch-machine.js";
import { selectFor } from "../../../src/daemon/watch-runner.js";

const CANDIDATES = ["tests/test_a.py", "tests/test_b.py", "tests/test_names.py"];

function prepared(selected: string[], all = false): PreparedSelection {
  return {
    rootdir: "/p",
    // selectFor reads only the selection, the candidates and the line.
    gathered: undefined as unknown as PreparedSelection["gathered"],
    selection: {
      all: all ? { file: "data.txt", why: "not a Python file" } : null,
      selected: new Map(selected.map((f) => [f, [{ file: f }]])),
      ignored: [],
    },
    candidates: CANDIDATES,
    line: "kiln: watch: 1 file changed, 1 of 3 test files selected",
  };
}

const plan = (scope: RunPlan["scope"], file: string | null = null): RunPlan => ({
  scope,
  filters: { file, name: null },
});

describe("selectFor: the hello's selection for a watch plan", () => {
  it("everything, unfiltered: no selection at all (pytest's arguments decide)", () => {
    expect(selectFor(plan({ kind: "all" }), prepared([]))).toBeUndefined();
  });

  it("everything through a file filter: the candidates it matches", () => {
    expect(selectFor(plan({ kind: "all" }, "names"), prepared([]))).toEqual({
      rootdir: "/p",
      files: ["tests/test_names.py"],
      candidates: CANDIDATES,
      note: "kiln: watch: all tests; file ~ names",
    });
  });

  it("affected: --affected-by's own selection, narrowed by the file filter", () => {
    const changed = plan({ kind: "affected", changed: ["lib/x.py"] });
    expect(selectFor(changed, prepared(["tests/test_a.py"]))).toEqual({
      rootdir: "/p",
      files: ["tests/test_a.py"],
      candidates: CANDIDATES,
      note: "kiln: watch: 1 file changed, 1 of 3 test files selected",
    });
    const filtered = plan({ kind: "affected", changed: ["lib/x.py"] }, "_b");
    expect(selectFor(filtered, prepared(["tests/test_a.py"]))?.files).toEqual([]);
    // A change that runs everything (not a Python file), through the filter.
    expect(selectFor(filtered, prepared([], true))?.files).toEqual(["tests/test_b.py"]);
    // ... and without one: nothing is filtered out at all.
    const everything = selectFor(changed, prepared([], true));
    expect(everything?.candidates).toEqual([]);
  });

  it("failed only: the failures' files, and only those node ids in them", () => {
    const failed = plan({
      kind: "failed",
      nodeids: ["tests/test_b.py::t1", "tests/test_a.py::t[2]"],
    });
    expect(selectFor(failed, prepared([]))).toEqual({
      rootdir: "/p",
      files: ["tests/test_a.py", "tests/test_b.py"],
      candidates: CANDIDATES,
      note: "kiln: watch: failed only (2)",
      nodeids: ["tests/test_b.py::t1", "tests/test_a.py::t[2]"],
    });
    // A collection error names a file: it runs whole.
    const broken = plan({ kind: "failed", nodeids: ["tests/test_a.py", "tests/test_b.py::t1"] });
    expect(selectFor(broken, prepared([]))?.nodeids).toBeUndefined();
  });
});
