// `[tool.kiln]` and `[tool.kiln.limits]` in the nearest pyproject.toml (the
// working directory or the closest parent that has one, as ruff and black
// look for theirs). Only the subset these keys need is read: `isolate =
// "string"` in [tool.kiln], `key = integer` lines in [tool.kiln.limits];
// anything else in the limits table, or a non-string isolate, is a clear
// error rather than a guess. Other keys and tables are skipped unread.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type IsolationLimits,
  type IsolationProfile,
  LIMIT_KEYS,
  ProfileError,
  parseProfile,
} from "../sandbox/profiles.js";

export interface KilnConfig {
  /** The pyproject.toml read, if any. */
  path: string | undefined;
  isolate: IsolationProfile | undefined;
  limits: IsolationLimits;
}

export class KilnConfigError extends Error {}

export function findPyproject(cwd: string): string | undefined {
  let dir = cwd;
  for (;;) {
    const candidate = join(dir, "pyproject.toml");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function loadKilnConfig(cwd: string): KilnConfig {
  const path = findPyproject(cwd);
  if (path === undefined) return { path, isolate: undefined, limits: {} };
  return { path, ...parseKilnToml(readFileSync(path, "utf8"), path) };
}

type Value = string | number;

function parseValue(raw: string, where: string): Value {
  const text = raw.replace(/\s+#.*$/, "").trim();
  const str = /^"([^"\\]*)"$/.exec(text) ?? /^'([^']*)'$/.exec(text);
  if (str) return str[1] ?? "";
  if (/^[+]?\d[\d_]*$/.test(text)) return Number(text.replaceAll("_", ""));
  throw new KilnConfigError(
    `${where}: expected a quoted string or a whole number, got ${JSON.stringify(text)}`,
  );
}

export function parseKilnToml(
  text: string,
  path: string,
): { isolate: IsolationProfile | undefined; limits: IsolationLimits } {
  let table = "";
  let isolate: IsolationProfile | undefined;
  const limits: IsolationLimits = {};
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const header = /^\[\s*([^\]]+?)\s*\](\s*#.*)?$/.exec(trimmed);
    if (header && !trimmed.startsWith("[[")) {
      table = (header[1] ?? "").replace(/\s+/g, "");
      continue;
    }
    if (trimmed.startsWith("[[")) {
      table = "";
      continue;
    }
    if (table !== "tool.kiln" && table !== "tool.kiln.limits") continue;
    // Other [tool.kiln] keys belong to other features (or later versions),
    // whatever their syntax: only `isolate` is read here.
    if (table === "tool.kiln" && !/^isolate\s*=/.test(trimmed)) continue;
    const where = `${path}:${index + 1} [${table}]`;
    const pair = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(trimmed);
    if (!pair) throw new KilnConfigError(`${where}: cannot read ${JSON.stringify(trimmed)}`);
    const key = pair[1] ?? "";
    const value = parseValue(pair[2] ?? "", `${where} ${key}`);
    if (table === "tool.kiln") {
      if (key === "isolate") {
        if (typeof value !== "string") {
          throw new KilnConfigError(
            `${where}: isolate must be a string ("none", "hermetic" or "strict")`,
          );
        }
        try {
          isolate = parseProfile(value, `${where} isolate`);
        } catch (error) {
          if (error instanceof ProfileError) throw new KilnConfigError(error.message);
          throw error;
        }
      }
      continue;
    }
    const field = LIMIT_KEYS[key];
    if (field === undefined) {
      throw new KilnConfigError(
        `${where}: unknown limit ${JSON.stringify(key)}; known: ${Object.keys(LIMIT_KEYS).join(", ")}`,
      );
    }
    if (typeof value !== "number" || value <= 0) {
      throw new KilnConfigError(`${where}: ${key} must be a whole number > 0`);
    }
    limits[field] = value;
  }
  return { isolate, limits };
}
