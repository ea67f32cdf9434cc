import { describe, expect, it } from "vitest";
import {
  type CollectedItem,
  classKey,
  groupItems,
  moduleKey,
  type WorkGroup,
} from "../../../src/scheduler/grouping.js";

function items(...nodeids: string[]): CollectedItem[] {
  return nodeids.map((nodeid, index) => ({ index, nodeid }));
}

/** Groups as [key, nodeids[]] pairs, for compact assertions. */
function shape(groups: WorkGroup[]): [string, string[]][] {
  return groups.map((g) => [g.key, g.items.map((i) => i.nodeid)]);
}

const suite = items(
  "tests/test_a.py::test_one",
  "tests/test_a.py::TestA::test_x",
  "tests/test_a.py::TestA::test_y[1-2]",
  "tests/test_a.py::test_two",
  "tests/test_b.py::TestB::test_z",
  "tests/test_b.py::test_param[a::b]",
  "tests/test_b.py::TestB::test_param[x::y::z]",
);

describe("moduleKey", () => {
  it("is the file part of the nodeid", () => {
    expect(moduleKey("t.py::TestA::test_x")).toBe("t.py");
    expect(moduleKey("dir/sub/t.py::test[a::b]")).toBe("dir/sub/t.py");
    expect(moduleKey("t.py")).toBe("t.py");
  });
});

describe("classKey", () => {
  it.each([
    ["t.py::TestA::test_x", "t.py::TestA"],
    ["t.py::test_y", "t.py"],
    ["t.py::test[a::b]", "t.py"],
    ["t.py::test[a::b::c]", "t.py"],
    ["t.py::TestA::test[a::b]", "t.py::TestA"],
    ["t.py::TestA::test[[::]]", "t.py::TestA"],
    ["t.py::Outer::Inner::test", "t.py::Outer::Inner"],
    ["dir/t.py::TestA::test_x[1]", "dir/t.py::TestA"],
    ["dir[1]/t.py::TestA::test_x", "dir[1]/t.py::TestA"],
    ["dir[1]/t.py::test_x", "dir[1]/t.py"],
    ["t.py::mod.func", "t.py"],
    ["data.yaml", "data.yaml"],
  ])("%s → %s", (nodeid, key) => {
    expect(classKey(nodeid)).toBe(key);
  });
});

describe("groupItems", () => {
  it("groups by module", () => {
    expect(shape(groupItems(suite, "module"))).toEqual([
      [
        "tests/test_a.py",
        [
          "tests/test_a.py::test_one",
          "tests/test_a.py::TestA::test_x",
          "tests/test_a.py::TestA::test_y[1-2]",
          "tests/test_a.py::test_two",
        ],
      ],
      [
        "tests/test_b.py",
        [
          "tests/test_b.py::TestB::test_z",
          "tests/test_b.py::test_param[a::b]",
          "tests/test_b.py::TestB::test_param[x::y::z]",
        ],
      ],
    ]);
  });

  it("groups by class, module-level functions by module", () => {
    expect(shape(groupItems(suite, "class"))).toEqual([
      ["tests/test_a.py", ["tests/test_a.py::test_one", "tests/test_a.py::test_two"]],
      [
        "tests/test_a.py::TestA",
        ["tests/test_a.py::TestA::test_x", "tests/test_a.py::TestA::test_y[1-2]"],
      ],
      [
        "tests/test_b.py::TestB",
        ["tests/test_b.py::TestB::test_z", "tests/test_b.py::TestB::test_param[x::y::z]"],
      ],
      ["tests/test_b.py", ["tests/test_b.py::test_param[a::b]"]],
    ]);
  });

  it("puts every test in its own group", () => {
    const groups = groupItems(suite, "test");
    expect(groups).toHaveLength(suite.length);
    expect(shape(groups)).toEqual(suite.map((i) => [i.nodeid, [i.nodeid]]));
  });

  it("keeps duplicate nodeids as separate groups in test mode", () => {
    const dup = items("t.py::test", "t.py::test");
    const groups = groupItems(dup, "test");
    expect(groups.map((g) => g.items[0]?.index)).toEqual([0, 1]);
  });

  it("groups interleaved items and keeps collection order within each group", () => {
    // pytest_collection_modifyitems may interleave modules.
    const reordered = items("b.py::t1", "a.py::t1", "b.py::t2", "a.py::t2", "c.py::t1", "b.py::t3");
    const groups = groupItems(reordered, "module");
    expect(shape(groups)).toEqual([
      ["b.py", ["b.py::t1", "b.py::t2", "b.py::t3"]],
      ["a.py", ["a.py::t1", "a.py::t2"]],
      ["c.py", ["c.py::t1"]],
    ]);
    expect(groups[0]?.items.map((i) => i.index)).toEqual([0, 2, 5]);
  });

  it("keeps the items' identity and every item exactly once", () => {
    for (const mode of ["module", "class", "test"] as const) {
      const flat = groupItems(suite, mode).flatMap((g) => g.items);
      expect(flat).toHaveLength(suite.length);
      expect(new Set(flat)).toEqual(new Set(suite));
    }
  });

  it("handles an empty collection", () => {
    expect(groupItems([], "module")).toEqual([]);
    expect(groupItems([], "class")).toEqual([]);
    expect(groupItems([], "test")).toEqual([]);
  });

  it("does not mutate its input", () => {
    const input = items("b.py::t", "a.py::t", "b.py::u");
    const copy = structuredClone(input);
    groupItems(input, "module");
    expect(input).toEqual(copy);
  });
});
