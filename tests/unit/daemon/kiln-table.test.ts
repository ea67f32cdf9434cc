import { describe, expect, it } from "vitest";
import { KilnTableError, parseWatchRules } from "../../../src/config/kiln-table.js";
import { namesOf } from "../../../src/daemon/affected-inputs.js";

describe("parseWatchRules", () => {
  it("reads watch-ignore (one or several lines) and the watch-trigger table", () => {
    const rules = parseWatchRules(
      [
        "[tool.pytest.ini_options]",
        'watch-ignore = ["not/ours"]',
        "[tool.kiln]",
        "other = 1",
        'watch-ignore = ["docs/", # the docs',
        "  '*.md']",
        "",
        "[tool.kiln.watch-trigger]",
        '"data/**/*.csv" = "tests/test_io.py"  # one glob',
        '\'schemas/*.json\' = ["tests/api/", "tests/test_schema.py"]',
        "[tool.other]",
        '"x" = "y"',
      ].join("\n"),
    );
    expect(rules).toEqual({
      ignore: ["docs/", "*.md"],
      triggers: [
        { pattern: "data/**/*.csv", tests: ["tests/test_io.py"] },
        { pattern: "schemas/*.json", tests: ["tests/api/", "tests/test_schema.py"] },
      ],
    });
    expect(parseWatchRules("[project]\nname = 'x'\n")).toEqual({ ignore: [], triggers: [] });
  });

  it("names the line of a value it cannot read", () => {
    expect(() => parseWatchRules("[tool.kiln]\nwatch-ignore = 3\n")).toThrow(
      new KilnTableError(
        'pyproject.toml:2: [tool.kiln] "watch-ignore": expected a string or a list of strings, got 3',
      ),
    );
    expect(() => parseWatchRules("[tool.kiln]\nwatch-trigger = {}\n")).toThrow(/as a table/);
    expect(() => parseWatchRules("[tool.kiln]\nwatch-ignore = ['a',\n")).toThrow(/never closes/);
  });
});

describe("namesOf", () => {
  it("gives the naming rule's names and pytest's prepend-mode name", () => {
    const inits = new Set(["lib", "src/shop"]);
    const has = (dir: string) => inits.has(dir);
    expect(namesOf("lib/util.py", ["/p"], "/p", has)).toEqual(["lib.util"]);
    expect(namesOf("tests/helpers.py", ["/p"], "/p", has)).toEqual(["tests.helpers", "helpers"]);
    expect(namesOf("src/shop/cart.py", ["/p", "/p/src"], "/p", has)).toEqual([
      "src.shop.cart",
      "shop.cart",
    ]);
    expect(namesOf("lib/__init__.py", ["/p"], "/p", has)).toEqual(["lib"]);
  });
});
