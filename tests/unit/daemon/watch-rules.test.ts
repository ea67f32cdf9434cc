import { describe, expect, it } from "vitest";
import { KilnConfigError, parseKilnTable } from "../../../src/config/pyproject-kiln.js";
import { namesOf } from "../../../src/daemon/affected-inputs.js";
import { watchRulesOf } from "../../../src/daemon/watch-rules.js";

describe("watchRulesOf", () => {
  it("reads watch-ignore and the watch-trigger table", () => {
    const table = parseKilnTable(
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
      ].join("\n"),
      "pyproject.toml",
    );
    expect(watchRulesOf(table)).toEqual({
      ignore: ["docs/", "*.md"],
      triggers: [
        { pattern: "data/**/*.csv", tests: ["tests/test_io.py"] },
        { pattern: "schemas/*.json", tests: ["tests/api/", "tests/test_schema.py"] },
      ],
    });
    expect(watchRulesOf({})).toEqual({ ignore: [], triggers: [] });
  });

  it("names the key whose value it cannot use", () => {
    expect(() => watchRulesOf({ "watch-ignore": 3 })).toThrow(
      new KilnConfigError(
        "pyproject.toml: [tool.kiln] watch-ignore: expected a glob or a list of globs, got 3",
      ),
    );
    expect(() => watchRulesOf({ "watch-trigger": ["a"] })).toThrow(/must be a table/);
    expect(() => watchRulesOf({ "watch-trigger": { "a/*": [1] } })).toThrow(
      /\[tool.kiln.watch-trigger\] "a\/\*": expected a glob/,
    );
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
