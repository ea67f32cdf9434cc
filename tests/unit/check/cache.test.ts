import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CHECK_CACHE_VERSION,
  type CheckCache,
  emptyCache,
  loadCheckCache,
  saveCheckCache,
} from "../../../src/check/cache.js";
import { explainLines, formatProblem } from "../../../src/check/run-check.js";
import { checkCachePath } from "../../../src/config/kiln-dir.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-check-cache-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("check cache", () => {
  it("lives in .kiln/check-cache.json", () => {
    expect(checkCachePath("/p")).toBe("/p/.kiln/check-cache.json");
  });

  it("round-trips and leaves no temp file behind", () => {
    const cache: CheckCache = {
      ...emptyCache(),
      topLevel: ["a"],
      files: {
        "a.py": {
          sha256: "ab",
          module: "a",
          isPackage: false,
          analysis: {
            imports: [],
            allNames: ["x"],
            dynamicNames: false,
            namesOpaque: false,
            computedImports: false,
          },
          problems: [],
        },
      },
    };
    saveCheckCache(root, cache);
    expect(loadCheckCache(root)).toEqual(cache);
    expect(readdirSync(join(root, ".kiln"))).toEqual(["check-cache.json"]);
  });

  it.each([
    ["missing", null],
    ["not JSON", "{nope"],
    ["another version", JSON.stringify({ ...emptyCache(), version: CHECK_CACHE_VERSION + 1 })],
    ["the wrong shape", JSON.stringify({ version: CHECK_CACHE_VERSION, files: [] })],
  ])("starts empty when the cache is %s", (_, text) => {
    if (text !== null) {
      mkdirSync(dirname(checkCachePath(root)), { recursive: true });
      writeFileSync(checkCachePath(root), text);
    }
    expect(loadCheckCache(root)).toEqual(emptyCache());
  });
});

describe("output", () => {
  it("formats problems as path:line: message, line 0 as 1", () => {
    expect(formatProblem({ rel: "a/b.py", line: 7, message: "m" })).toBe("a/b.py:7: m");
    expect(formatProblem({ rel: "c.py", line: 0, message: "cannot read" })).toBe(
      "c.py:1: cannot read",
    );
  });

  it("explains what was analysed, checked and reused", () => {
    expect(
      explainLines({
        problems: [],
        files: 3,
        analysed: ["b"],
        reusedAnalysis: ["a", "c"],
        checked: ["a", "b"],
        reusedResults: ["c"],
        removed: [],
        serverStarted: true,
      }),
    ).toEqual([
      "analysed: b",
      "reused analysis: a c",
      "checked: a b",
      "reused results: c",
      "removed: (none)",
      "compile server: started",
    ]);
  });
});
