import { describe, expect, it } from "vitest";
import { decodeKeys } from "../../../src/daemon/watch-keys.js";
import {
  describePlan,
  type Effect,
  filterFiles,
  type Key,
  type RunPlan,
  WatchMachine,
} from "../../../src/daemon/watch-machine.js";

const char = (c: string): { type: "key"; key: Key } => ({
  type: "key",
  key: { name: "char", char: c },
});
const key = (name: "enter" | "escape" | "backspace" | "ctrl-c"): { type: "key"; key: Key } => ({
  type: "key",
  key: { name },
});
const NO_FILTERS = { file: null, name: null };

function runOf(effects: Effect[]): RunPlan {
  const run = effects.find((e) => e.type === "run");
  if (run === undefined || run.type !== "run")
    throw new Error(`no run in ${JSON.stringify(effects)}`);
  return run.plan;
}

/** A machine whose first run (everything) has finished with these failures. */
function started(failed: string[] = []): WatchMachine {
  const m = new WatchMachine();
  expect(runOf(m.handle({ type: "start" }))).toEqual({
    scope: { kind: "all" },
    filters: NO_FILTERS,
  });
  expect(m.handle({ type: "finished", failed })).toEqual([{ type: "idle" }]);
  return m;
}

describe("WatchMachine: changes", () => {
  it("debounces: several changes, one run of the affected tests once they settle", () => {
    const m = started();
    expect(m.handle({ type: "changed", files: ["b.py"] })).toEqual([{ type: "debounce" }]);
    expect(m.handle({ type: "changed", files: ["a.py"] })).toEqual([{ type: "debounce" }]);
    expect(m.handle({ type: "changed", files: ["b.py"] })).toEqual([{ type: "debounce" }]);
    expect(runOf(m.handle({ type: "settled" }))).toEqual({
      scope: { kind: "affected", changed: ["a.py", "b.py"] },
      filters: NO_FILTERS,
    });
  });

  it("keeps changes made during a run for the next run, after it ends", () => {
    const m = started();
    m.handle({ type: "changed", files: ["a.py"] });
    runOf(m.handle({ type: "settled" }));
    m.handle({ type: "changed", files: ["c.py"] });
    expect(m.handle({ type: "settled" })).toEqual([]);
    expect(runOf(m.handle({ type: "finished", failed: [] })).scope).toEqual({
      kind: "affected",
      changed: ["c.py"],
    });
  });

  it("waits for the debounce if changes are still coming when a run ends", () => {
    const m = started();
    m.handle({ type: "changed", files: ["a.py"] });
    runOf(m.handle({ type: "settled" }));
    m.handle({ type: "changed", files: ["d.py"] });
    expect(m.handle({ type: "finished", failed: [] })).toEqual([{ type: "idle" }]);
    expect(runOf(m.handle({ type: "settled" })).scope).toEqual({
      kind: "affected",
      changed: ["d.py"],
    });
  });

  it("a run of everything covers the changes made before it started", () => {
    const m = started();
    m.handle({ type: "changed", files: ["a.py"] });
    expect(runOf(m.handle(char("a"))).scope).toEqual({ kind: "all" });
    expect(m.handle({ type: "settled" })).toEqual([]);
    expect(m.handle({ type: "finished", failed: [] })).toEqual([{ type: "idle" }]);
  });
});

describe("WatchMachine: keys", () => {
  it("f runs the last run's failures, and says so when there are none", () => {
    const m = new WatchMachine();
    m.handle({ type: "start" });
    expect(m.handle(char("f"))).toEqual([
      { type: "note", text: "no run has finished yet: nothing is known to fail" },
    ]);
    m.handle({ type: "finished", failed: ["t.py::a", "t.py::b"] });
    expect(runOf(m.handle(char("f"))).scope).toEqual({
      kind: "failed",
      nodeids: ["t.py::a", "t.py::b"],
    });
    m.handle({ type: "finished", failed: [] });
    expect(m.handle(char("f"))).toEqual([{ type: "note", text: "no test failed in the last run" }]);
  });

  it("a key's run asked for during a run is queued until it ends", () => {
    const m = started(["t.py::a"]);
    runOf(m.handle(char("a")));
    expect(m.handle(char("f"))).toEqual([
      { type: "note", text: "queued: it runs when the current run ends" },
    ]);
    expect(runOf(m.handle({ type: "finished", failed: ["t.py::x"] })).scope).toEqual({
      kind: "failed",
      nodeids: ["t.py::a"],
    });
  });

  it("p and t prompt for a filter: typing, backspace, Enter applies it and runs everything it lets through", () => {
    const m = started();
    expect(m.handle(char("p"))).toEqual([{ type: "prompt", filter: "file", text: "" }]);
    m.handle(char("n"));
    m.handle(char("x"));
    expect(m.handle(key("backspace"))).toEqual([{ type: "prompt", filter: "file", text: "n" }]);
    // Keys are text inside a prompt: q does not quit.
    expect(m.handle(char("q"))).toEqual([{ type: "prompt", filter: "file", text: "nq" }]);
    expect(runOf(m.handle(key("enter")))).toEqual({
      scope: { kind: "all" },
      filters: { file: "nq", name: null },
    });
    m.handle({ type: "finished", failed: [] });
    expect(m.handle(char("t"))).toEqual([{ type: "prompt", filter: "name", text: "" }]);
    m.handle(char("k"));
    expect(runOf(m.handle(key("enter"))).filters).toEqual({ file: "nq", name: "k" });
    m.handle({ type: "finished", failed: [] });
    // The filters stay for later runs, changes included.
    m.handle({ type: "changed", files: ["a.py"] });
    expect(runOf(m.handle({ type: "settled" })).filters).toEqual({ file: "nq", name: "k" });
    m.handle({ type: "finished", failed: [] });
    // The prompt starts from the current filter; emptied, it clears it.
    expect(m.handle(char("p"))).toEqual([{ type: "prompt", filter: "file", text: "nq" }]);
    m.handle(key("backspace"));
    m.handle(key("backspace"));
    expect(runOf(m.handle(key("enter"))).filters).toEqual({ file: null, name: "k" });
  });

  it("Escape cancels a prompt and keeps the filter", () => {
    const m = started();
    m.handle(char("t"));
    m.handle(char("z"));
    expect(m.handle(key("escape"))).toEqual([{ type: "idle" }]);
    expect(m.currentFilters).toEqual(NO_FILTERS);
    // Back to commands.
    expect(runOf(m.handle(char("a"))).scope).toEqual({ kind: "all" });
  });

  it("Enter reruns the last plan with the filters in force", () => {
    const m = started();
    m.handle({ type: "changed", files: ["a.py"] });
    m.handle({ type: "settled" });
    m.handle({ type: "finished", failed: [] });
    expect(runOf(m.handle(key("enter")))).toEqual({
      scope: { kind: "affected", changed: ["a.py"] },
      filters: NO_FILTERS,
    });
  });

  it("other keys do nothing", () => {
    const m = started();
    expect(m.handle(char("z"))).toEqual([]);
    expect(m.handle(key("escape"))).toEqual([]);
  });
});

describe("WatchMachine: quitting", () => {
  it("q and Ctrl-C exit at once when idle", () => {
    expect(started().handle(char("q"))).toEqual([{ type: "exit" }]);
    expect(started().handle(key("ctrl-c"))).toEqual([{ type: "exit" }]);
    expect(started().handle({ type: "signal" })).toEqual([{ type: "exit" }]);
  });

  it("Ctrl-C quits from inside a prompt too", () => {
    const m = started();
    m.handle(char("p"));
    expect(m.handle(key("ctrl-c"))).toEqual([{ type: "exit" }]);
  });

  it("during a run: stop it gently, then hard on a second quit, and exit when it ends", () => {
    const m = new WatchMachine();
    m.handle({ type: "start" });
    expect(m.handle(char("q"))).toEqual([{ type: "stop-run", hard: false }]);
    // Changes and keys no longer start anything.
    expect(m.handle({ type: "changed", files: ["a.py"] })).toEqual([]);
    expect(m.handle(char("a"))).toEqual([]);
    expect(m.handle({ type: "signal" })).toEqual([{ type: "stop-run", hard: true }]);
    expect(m.handle({ type: "finished", failed: [] })).toEqual([{ type: "exit" }]);
  });

  it("a run that finishes without having begun is a bug", () => {
    expect(() => new WatchMachine().handle({ type: "finished", failed: [] })).toThrow(
      /this is a bug in kiln/,
    );
  });
});

describe("file filter and plan text", () => {
  it("matches a regex case-insensitively, or the text literally when it is no regex", () => {
    const files = ["tests/test_names.py", "tests/test_top.py", "tests/a(b.py"];
    expect(filterFiles(files, "NAMES")).toEqual(["tests/test_names.py"]);
    expect(filterFiles(files, "t_(top|names)")).toEqual([
      "tests/test_names.py",
      "tests/test_top.py",
    ]);
    expect(filterFiles(files, "a(b")).toEqual(["tests/a(b.py"]);
    expect(filterFiles(files, null)).toEqual(files);
  });

  it("describes a plan for the status line", () => {
    expect(describePlan({ scope: { kind: "all" }, filters: NO_FILTERS })).toBe("all tests");
    expect(
      describePlan({
        scope: { kind: "affected", changed: ["a.py", "b.py", "c.py", "d.py"] },
        filters: { file: "x", name: "y and z" },
      }),
    ).toBe("changed: a.py, b.py, c.py, +1 more; file ~ x, -k y and z");
    expect(
      describePlan({ scope: { kind: "failed", nodeids: ["t::a"] }, filters: NO_FILTERS }),
    ).toBe("failed only (1)");
  });
});

describe("decodeKeys", () => {
  it("reads a raw terminal's bytes as keys", () => {
    expect(decodeKeys("a")).toEqual([{ name: "char", char: "a" }]);
    expect(decodeKeys("ab\r")).toEqual([
      { name: "char", char: "a" },
      { name: "char", char: "b" },
      { name: "enter" },
    ]);
    expect(decodeKeys("\x03")).toEqual([{ name: "ctrl-c" }]);
    expect(decodeKeys("\x7f")).toEqual([{ name: "backspace" }]);
    expect(decodeKeys("\x1b")).toEqual([{ name: "escape" }]);
    // An arrow key is one escape sequence, not Escape then "[A".
    expect(decodeKeys("\x1b[A")).toEqual([]);
    expect(decodeKeys("\x01")).toEqual([]);
  });
});
