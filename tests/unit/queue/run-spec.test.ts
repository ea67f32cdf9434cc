import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  agentArgsOf,
  collectionHash,
  collectionMismatch,
  type RunSpec,
  readRunSpec,
  runSpecKey,
} from "../../../src/queue/run-spec.js";
import { tempDir } from "../../helpers/temp.js";

function checkout(): string {
  const root = tempDir("kiln-spec-");
  mkdirSync(join(root, "tests", "unit"), { recursive: true });
  writeFileSync(join(root, "tests", "unit", "test_a.py"), "def test_a(): pass\n");
  writeFileSync(join(root, "tests", "pytest-ci.ini"), "[pytest]\n");
  return root;
}

describe("agentArgsOf", () => {
  it("keeps what shapes collection and running, in order, and leaves out the coordinator's own", () => {
    const root = checkout();
    const given = [
      "-p",
      "no:cacheprovider",
      "-o",
      "xfail_strict=true",
      "-k",
      "add",
      "-m",
      "slow",
      "-W",
      "error::DeprecationWarning",
      "--tb=short",
      "--asyncio-mode",
      "auto",
      "-x",
      "--maxfail",
      "3",
      "--maxfail=2",
      "--junitxml",
      "out.xml",
      "--ff",
      "-xvs",
    ];
    expect(agentArgsOf(given, root, root)).toEqual({
      args: [
        "-p",
        "no:cacheprovider",
        "-o",
        "xfail_strict=true",
        "-k",
        "add",
        "-m",
        "slow",
        "-W",
        "error::DeprecationWarning",
        "--tb=short",
        "--asyncio-mode",
        "auto",
        "-vs",
      ],
      narrowed: false,
      // -xvs came last (argparse: the last of -x and --maxfail wins).
      maxfail: 1,
    });
  });

  it("reads -x and --maxfail as pytest's argparse does, the last one winning", () => {
    const root = checkout();
    expect(agentArgsOf(["--maxfail", "3"], root, root).maxfail).toBe(3);
    expect(agentArgsOf(["-x", "--maxfail=2"], root, root).maxfail).toBe(2);
    expect(agentArgsOf(["--maxfail=2", "--exitfirst"], root, root).maxfail).toBe(1);
    expect(agentArgsOf(["-q"], root, root).maxfail).toBe(0);
  });

  it("says when the coordinator's collection is narrowed by its own cache (--lf, --sw)", () => {
    const root = checkout();
    expect(agentArgsOf(["--lf"], root, root)).toEqual({ args: [], narrowed: true, maxfail: 0 });
    expect(agentArgsOf(["--sw", "-q"], root, root)).toEqual({
      args: ["-q"],
      narrowed: true,
      maxfail: 0,
    });
  });

  it("makes paths relative to the rootdir, so an agent resolves them against its checkout", () => {
    const root = checkout();
    const cwd = join(root, "tests");
    const given = [
      "unit/test_a.py::test_a",
      "-c",
      "pytest-ci.ini",
      "--ignore=unit/gone",
      "--rootdir",
      ".",
    ];
    expect(agentArgsOf(given, cwd, root).args).toEqual([
      "tests/unit/test_a.py::test_a",
      "-c",
      "tests/pytest-ci.ini",
      // Not a path that exists: pytest would say so; it goes as given.
      "--ignore=unit/gone",
      "--rootdir",
      "tests",
    ]);
    // A word after a plugin's option is no path, even where one could be.
    expect(agentArgsOf(["--asyncio-mode", "auto"], cwd, root).args).toEqual([
      "--asyncio-mode",
      "auto",
    ]);
  });
});

function spec(nodeids: string[], narrowed = false): RunSpec {
  const sorted = [...nodeids].sort();
  return { args: [], timeout: null, narrowed, hash: collectionHash(sorted), nodeids: sorted };
}

describe("collectionMismatch", () => {
  it("accepts the same node ids in any order", () => {
    expect(collectionMismatch(spec(["a::x", "b::y"]), ["b::y", "a::x"])).toBeUndefined();
  });

  it("names the missing and the extra ids, a few of each", () => {
    const run = spec(["a::1", "a::2", "a::3", "a::4", "a::5"]);
    const said = collectionMismatch(run, ["a::1", "a::new"]);
    expect(said).toBe(
      "its collection differs from the coordinator's: of the run's 5 tests, 4 missing here " +
        "(a::2, a::3, a::4 and 1 more); 1 not in the run (a::new)",
    );
  });

  it("for a narrowed run, asks only that the run's ids are here", () => {
    expect(collectionMismatch(spec(["a::1"], true), ["a::1", "a::2"])).toBeUndefined();
    expect(collectionMismatch(spec(["a::3"], true), ["a::1"])).toMatch(/1 missing here \(a::3\)/);
  });
});

describe("runSpecKey", () => {
  it("names a spec by its content: a run id given again with other options is another key", () => {
    const one = spec(["a::1"]);
    expect(runSpecKey("r1", one)).toBe(runSpecKey("r1", spec(["a::1"])));
    expect(runSpecKey("r1", one)).not.toBe(runSpecKey("r1", { ...one, args: ["-q"] }));
    expect(runSpecKey("r1", one)).not.toBe(runSpecKey("r1", spec(["a::2"])));
    expect(runSpecKey("r1", one)).toMatch(/^kiln-run:r1:[0-9a-f]{16}$/);
  });
});

describe("readRunSpec", () => {
  it("reads what the coordinator writes and says what is wrong with anything else", () => {
    const written = spec(["a::1"]);
    expect(readRunSpec(JSON.stringify(written))).toEqual(written);
    expect(readRunSpec("{")).toMatch(/^not JSON/);
    expect(readRunSpec(JSON.stringify({ ...written, args: "x" }))).toEqual(expect.any(String));
  });
});
