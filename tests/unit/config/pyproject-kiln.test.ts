// [tool.kiln] read with a real TOML parser: the shapes TOML allows are all
// accepted, and a broken file is an error naming it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  KilnConfigError,
  parseKilnTable,
  readKilnTable,
} from "../../../src/config/pyproject-kiln.js";
import { tempDir } from "../../helpers/temp.js";

describe("[tool.kiln]", () => {
  it("reads the table in any TOML spelling, subtables included", () => {
    const text = [
      "[project]",
      'name = "x"',
      "[tool.kiln]",
      'isolate = "strict"  # a comment',
      "watch-ignore = [",
      '  "docs/",',
      "  '*.md',",
      "]",
      "[tool.kiln.limits]",
      "processes = 1_000",
    ].join("\n");
    expect(parseKilnTable(text, "p")).toEqual({
      isolate: "strict",
      "watch-ignore": ["docs/", "*.md"],
      limits: { processes: 1000 },
    });
    expect(parseKilnTable('tool = { kiln = { isolate = "none" } }', "p")).toEqual({
      isolate: "none",
    });
    expect(parseKilnTable("[tool.black]\nline-length = 1\n", "p")).toEqual({});
  });

  it("refuses a file that is not TOML, naming it", () => {
    expect(() => parseKilnTable("[tool.kiln\nx = 1", "/p/pyproject.toml")).toThrow(KilnConfigError);
    expect(() => parseKilnTable("[tool.kiln\nx = 1", "/p/pyproject.toml")).toThrow(
      /\/p\/pyproject\.toml: not valid TOML/,
    );
    expect(() => parseKilnTable("tool = 3", "p")).toThrow(/"tool" must be a table/);
  });

  it("finds the nearest pyproject.toml upwards, or none", () => {
    const root = tempDir("kiln-pyproject-");
    mkdirSync(join(root, "a", "b"), { recursive: true });
    writeFileSync(join(root, "pyproject.toml"), "[tool.kiln]\nisolate = 'hermetic'\n");
    expect(readKilnTable(join(root, "a", "b"))).toEqual({
      path: join(root, "pyproject.toml"),
      table: { isolate: "hermetic" },
    });
  });
});
