// The watch rules of the affected-test selection (affected.ts), from
// `[tool.kiln]` as config/pyproject-kiln.ts reads it (the one TOML reader):
//
//   [tool.kiln]
//   watch-ignore = ["docs/", "*.md"]          # these files never select a test
//
//   [tool.kiln.watch-trigger]                 # a non-Python file selects these tests
//   "data/**/*.csv" = "tests/test_io.py"      # (a glob, or a list of globs)
//   "schemas/*.json" = ["tests/api/", "tests/test_schema.py"]
//
// A value of the wrong type is an error naming the key, never a silently
// empty rule.
import {
  isTable,
  KilnConfigError,
  readKilnTable,
  type TomlTable,
} from "../config/pyproject-kiln.js";
import type { WatchRules } from "./affected.js";

function globs(value: unknown, where: string): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v): v is string => typeof v === "string")) {
    return value;
  }
  throw new KilnConfigError(
    `${where}: expected a glob or a list of globs, got ${JSON.stringify(value)}`,
  );
}

/** The rules in a `[tool.kiln]` table read from `path`. Throws KilnConfigError. */
export function watchRulesOf(table: TomlTable, path = "pyproject.toml"): WatchRules {
  const ignore =
    table["watch-ignore"] === undefined
      ? []
      : globs(table["watch-ignore"], `${path}: [tool.kiln] watch-ignore`);
  const trigger = table["watch-trigger"];
  if (trigger !== undefined && !isTable(trigger)) {
    throw new KilnConfigError(
      `${path}: [tool.kiln] watch-trigger must be a table of "glob" = "test files" ` +
        `(got ${JSON.stringify(trigger)})`,
    );
  }
  const triggers = Object.entries(trigger ?? {}).map(([pattern, tests]) => ({
    pattern,
    tests: globs(tests, `${path}: [tool.kiln.watch-trigger] ${JSON.stringify(pattern)}`),
  }));
  return { ignore, triggers };
}

/** The rules of the project at `rootdir` (its nearest pyproject.toml). */
export function loadWatchRules(rootdir: string): WatchRules {
  const { path, table } = readKilnTable(rootdir);
  return watchRulesOf(table, path);
}
