import { describe, expect, it } from "vitest";
import { compareRuns, formatDifference, parseOutcomesFile } from "../../../src/parity/compare.js";
import { parseParityFile } from "../../../src/parity/projects.js";
import {
  compareTexts,
  describeTextDifference,
  normalizeText,
  type RunTexts,
  withoutExemptTexts,
} from "../../../src/parity/texts.js";

const empty: RunTexts = { failures: {}, collectErrors: {}, warnings: [], conftestError: undefined };

function texts(overrides: Partial<RunTexts>): RunTexts {
  return { ...empty, ...overrides };
}

describe("normalizeText", () => {
  it("blanks durations, the [kwN] prefix and object addresses only", () => {
    expect(
      normalizeText(
        "[kw3] FAILED in 0.52s (>1.0s) took 1,234.56ms; <m.T object at 0x7f5abc39c850>; 3 == 4",
      ),
    ).toBe(
      "FAILED in <duration> (><duration>) took <duration>; <m.T object at 0x<address>>; 3 == 4",
    );
  });

  it("blanks the id() in unittest.mock's reprs", () => {
    expect(normalizeText("self = <MagicMock name='getcwd' id='140152618303184'>, args = ()")).toBe(
      "self = <MagicMock name='getcwd' id='<id>'>, args = ()",
    );
  });

  it("leaves numbers that are not durations alone", () => {
    const text = "assert 12 == 13\nE   where 5 = len('abcde')\ntest_x.py:42: AssertionError";
    expect(normalizeText(text)).toBe(text);
  });

  it("replaces the given paths, longest first", () => {
    expect(
      normalizeText("/tmp/a/b/x.py and /tmp/a/y.py", {
        paths: [
          ["/tmp/a", "<A>"],
          ["/tmp/a/b", "<B>"],
        ],
      }),
    ).toBe("<B>/x.py and <A>/y.py");
  });
});

describe("compareTexts", () => {
  it("finds nothing when texts differ only in what is normalized", () => {
    const pytest = texts({
      failures: { "t.py::a": { call: "self = <t.A object at 0x1>\nE  assert 1 == 2 (0.1s)" } },
      collectErrors: { "u.py": "E   ImportError" },
      warnings: [{ location: "t.py::a", message: "t.py:3: UserWarning: w\n  warn()\n" }],
    });
    const kiln = texts({
      failures: { "t.py::a": { call: "self = <t.A object at 0xff>\nE  assert 1 == 2 (9.9s)" } },
      collectErrors: { "u.py": "E   ImportError" },
      warnings: [{ location: "t.py::a", message: "t.py:3: UserWarning: w\n  warn()\n" }],
    });
    expect(compareTexts(pytest, kiln)).toEqual([]);
  });

  it("reports failure text per phase, including a phase only one side has", () => {
    const pytest = texts({
      failures: { "t.py::a": { call: "E  assert 3 == 4", teardown: "boom" } },
    });
    const kiln = texts({ failures: { "t.py::a": { call: "E  AssertionError" } } });
    expect(compareTexts(pytest, kiln)).toEqual([
      {
        kind: "failure-text",
        nodeid: "t.py::a",
        phase: "call",
        pytest: "E  assert 3 == 4",
        kiln: "E  AssertionError",
      },
      {
        kind: "failure-text",
        nodeid: "t.py::a",
        phase: "teardown",
        pytest: "boom",
        kiln: undefined,
      },
    ]);
  });

  it("reports collection error and conftest error text", () => {
    const pytest = texts({ collectErrors: { "m.py": "m.py:1: in <module>" }, conftestError: "c" });
    const kiln = texts({ collectErrors: { "m.py": "loader.py:237: in exec_module" } });
    expect(compareTexts(pytest, kiln)).toEqual([
      { kind: "conftest-error", pytest: "c", kiln: undefined },
      {
        kind: "collect-error-text",
        nodeid: "m.py",
        pytest: "m.py:1: in <module>",
        kiln: "loader.py:237: in exec_module",
      },
    ]);
  });

  it("compares warnings as a multiset: order is free, counts and locations are not", () => {
    const w = (location: string, message = "x.py:1: UserWarning: w\n") => ({ location, message });
    const pytest = texts({ warnings: [w("t.py::a"), w("t.py::b"), w("t.py::b")] });
    expect(
      compareTexts(pytest, texts({ warnings: [w("t.py::b"), w("t.py::a"), w("t.py::b")] })),
    ).toEqual([]);
    expect(
      compareTexts(
        pytest,
        texts({
          warnings: [w("t.py::b"), w("t.py::a"), w("t.py::a", "loader.py:9: UserWarning: w\n")],
        }),
      ),
    ).toEqual([
      {
        kind: "warnings",
        onlyPytest: ["t.py::b\nx.py:1: UserWarning: w\n"],
        onlyKiln: ["t.py::a\nloader.py:9: UserWarning: w\n"],
      },
    ]);
  });

  it("treats no terminal reporter on both sides (null warnings) as equal", () => {
    expect(compareTexts(texts({ warnings: null }), texts({ warnings: null }))).toEqual([]);
  });
});

describe("compareRuns with texts", () => {
  it("compares texts only when both sides recorded them (expected/*.json has none)", () => {
    const withText = {
      exitCode: 1,
      outcomes: { "t.py::a": "failed" },
      texts: texts({ failures: { "t.py::a": { call: "E  one" } } }),
    };
    expect(compareRuns(withText, { exitCode: 1, outcomes: { "t.py::a": "failed" } })).toEqual([]);
    expect(
      compareRuns(withText, {
        ...withText,
        texts: texts({ failures: { "t.py::a": { call: "E  two" } } }),
      }).map((d) => formatDifference(d)),
    ).toEqual([
      [
        "t.py::a [call]: failure text differs",
        "  first difference at line 1:",
        "    - E  one",
        "    + E  two",
      ].join("\n"),
    ]);
  });

  it("drops failure-text differences of exempt node ids, and nothing else", () => {
    const diffs = compareRuns(
      {
        exitCode: 1,
        outcomes: { "c.py::crash": "failed" },
        texts: texts({ failures: { "c.py::crash": { "???": "[gw0] linux" } } }),
      },
      {
        exitCode: 1,
        outcomes: { "c.py::crash": "passed" },
        texts: texts({ failures: { "c.py::crash": { call: "Kiln worker kw1 crashed" } } }),
      },
    );
    expect(withoutExemptTexts(diffs, new Set(["c.py::crash"]))).toEqual([
      { kind: "outcome", nodeid: "c.py::crash", pytest: "failed", kiln: "passed" },
    ]);
  });
});

describe("describeTextDifference", () => {
  it("shows the first differing line with the line before it", () => {
    expect(describeTextDifference("a\nb\nc", "a\nb\nX")).toEqual([
      "first difference at line 3:",
      "    b",
      "  - c",
      "  + X",
    ]);
  });

  it("says when one text is a prefix of the other", () => {
    expect(describeTextDifference("a", "a\nmore")).toEqual([
      "first difference at line 2:",
      "    a",
      "  - (pytest's text ends)",
      "  + more",
    ]);
  });
});

describe("parseOutcomesFile with texts", () => {
  it("reads the recorder's text fields", () => {
    const parsed = parseOutcomesFile(
      JSON.stringify({
        exit_code: 1,
        outcomes: { "t.py::a": "failed" },
        failures: { "t.py::a": { call: "E  x" } },
        collect_errors: {},
        warnings: [{ location: "t.py::a", message: "m" }],
      }),
    );
    expect(parsed.texts).toEqual({
      failures: { "t.py::a": { call: "E  x" } },
      collectErrors: {},
      warnings: [{ location: "t.py::a", message: "m" }],
      conftestError: undefined,
    });
  });

  it("reads a conftest import error file, and none from an outcomes-only file", () => {
    const conftest = parseOutcomesFile(
      JSON.stringify({ exit_code: 4, outcomes: {}, conftest_error: "ImportError while loading" }),
    );
    expect(conftest.texts?.conftestError).toBe("ImportError while loading");
    expect(parseOutcomesFile('{"exit_code": 0, "outcomes": {}}').texts).toBeUndefined();
  });

  it("rejects malformed text fields", () => {
    const file = (extra: object) => JSON.stringify({ exit_code: 1, outcomes: {}, ...extra });
    expect(() => parseOutcomesFile(file({ failures: { "t.py::a": "x" } }))).toThrow(
      /not an object/,
    );
    expect(() => parseOutcomesFile(file({ failures: {}, warnings: [{ location: 1 }] }))).toThrow(
      /warnings\[0\]/,
    );
    expect(() => parseOutcomesFile(file({ failures: {}, warnings: "x" }))).toThrow(/list nor null/);
  });
});

describe("parity.json text_exempt", () => {
  const run = (extra: object) =>
    JSON.stringify({
      runs: [{ name: "r", kiln_args: [], pytest_args: [], exit_code: 1, ...extra }],
    });

  it("defaults to none and reads node ids with reasons", () => {
    expect(parseParityFile(run({}))[0]?.textExempt).toEqual({});
    expect(parseParityFile(run({ text_exempt: { "c.py::t": "crash" } }))[0]?.textExempt).toEqual({
      "c.py::t": "crash",
    });
  });

  it("needs a reason for every node id", () => {
    expect(() => parseParityFile(run({ text_exempt: { "c.py::t": "" } }))).toThrow(/reason/);
    expect(() => parseParityFile(run({ text_exempt: ["c.py::t"] }))).toThrow(/reason/);
  });
});
