// `[tool.kiln]` in pyproject.toml: the watch rules of the affected-test
// selection (src/daemon/affected.ts). Only the shapes Kiln documents are
// read, by a small line-based reader (no TOML dependency for two keys):
//
//   [tool.kiln]
//   watch-ignore = ["docs/", "*.md"]          # these files never select a test
//
//   [tool.kiln.watch-trigger]                 # a non-Python file selects these tests
//   "data/**/*.csv" = "tests/test_io.py"      # (a glob, or a list of globs)
//   "schemas/*.json" = ["tests/api/", "tests/test_schema.py"]
//
// Anything else under [tool.kiln] is left alone; a malformed value of these
// keys is an error naming the line, not a silently empty rule.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { WatchRules } from "../daemon/affected.js";

export class KilnTableError extends Error {}

const STRING = /"((?:[^"\\]|\\.)*)"|'([^']*)'/g;

function strings(text: string): string[] {
  return [...text.matchAll(STRING)].map((m) =>
    m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : (m[2] as string),
  );
}

function withoutComment(line: string): string {
  // A `#` outside a string starts a comment.
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote !== null) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

/** The rules in `text` (a pyproject.toml); none when it has no [tool.kiln]. */
export function parseWatchRules(text: string, file = "pyproject.toml"): WatchRules {
  const rules: { ignore: string[]; triggers: { pattern: string; tests: string[] }[] } = {
    ignore: [],
    triggers: [],
  };
  const lines = text.split(/\r?\n/);
  let table = "";
  for (let i = 0; i < lines.length; i++) {
    const line = withoutComment(lines[i] as string).trim();
    if (line === "") continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      table = (header[1] as string).replace(/\s+/g, "");
      continue;
    }
    if (table !== "tool.kiln" && table !== "tool.kiln.watch-trigger") continue;
    const eq = /^("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!eq) continue;
    const rawKey = eq[1] as string;
    const key = /^["']/.test(rawKey) ? (strings(rawKey)[0] as string) : rawKey;
    let value = (eq[2] as string).trim();
    const at = i + 1;
    // A list may span lines: read on until its brackets close.
    if (value.startsWith("[")) {
      while (!balanced(value) && i + 1 < lines.length) {
        value += ` ${withoutComment(lines[++i] as string).trim()}`;
      }
    }
    const bad = (what: string) =>
      new KilnTableError(`${file}:${at}: [${table}] ${JSON.stringify(key)}: ${what}`);
    const list = (): string[] => {
      if (value.startsWith("[")) {
        if (!balanced(value)) throw bad("a list that never closes");
        return strings(value);
      }
      if (/^("|')/.test(value)) return strings(value).slice(0, 1);
      throw bad(`expected a string or a list of strings, got ${value}`);
    };
    if (table === "tool.kiln.watch-trigger") {
      rules.triggers.push({ pattern: key, tests: list() });
    } else if (key === "watch-ignore") {
      rules.ignore.push(...list());
    } else if (key === "watch-trigger") {
      throw bad('write it as a table: [tool.kiln.watch-trigger] then "glob" = "tests..." lines');
    }
  }
  return rules;
}

function balanced(value: string): boolean {
  const text = value.replace(STRING, "");
  return (text.match(/\[/g) ?? []).length === (text.match(/\]/g) ?? []).length;
}

/** The rules of the project at `rootdir` (none without a pyproject.toml). */
export function loadWatchRules(rootdir: string): WatchRules {
  let text: string;
  try {
    text = readFileSync(join(rootdir, "pyproject.toml"), "utf8");
  } catch {
    return { ignore: [], triggers: [] };
  }
  return parseWatchRules(text, join(rootdir, "pyproject.toml"));
}
