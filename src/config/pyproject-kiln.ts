// `[tool.kiln]`: Kiln's own table in the nearest pyproject.toml (the working
// directory or the closest parent that has one, as ruff and black look for
// theirs). The file is parsed with smol-toml, a full TOML 1.0 parser: every
// reader of Kiln's settings (isolation, limits, watch rules, the daemon) goes
// through here, so a setting means the same wherever it is read, and a file
// pytest accepts is never refused by a half-TOML reader of Kiln's.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, TomlError } from "smol-toml";

export class KilnConfigError extends Error {}

/** A TOML table as smol-toml returns it. */
export type TomlTable = Record<string, unknown>;

export interface KilnTable {
  /** The pyproject.toml read; undefined when there is none. */
  path: string | undefined;
  /** `[tool.kiln]`, empty when the file has none. */
  table: TomlTable;
}

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

export function isTable(value: unknown): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `[tool.kiln]` of `text` (a pyproject.toml at `path`). Throws KilnConfigError. */
export function parseKilnTable(text: string, path: string): TomlTable {
  let document: TomlTable;
  try {
    // A big integer anywhere is valid TOML to tomllib (a Python int): read it, as a BigInt.
    document = parse(text, { integersAsBigInt: "asNeeded" });
  } catch (error) {
    if (error instanceof TomlError) {
      throw new KilnConfigError(`${path}: not valid TOML: ${error.message.split("\n")[0]}`);
    }
    throw error;
  }
  const tool = document.tool;
  if (tool === undefined) return {};
  if (!isTable(tool)) throw new KilnConfigError(`${path}: "tool" must be a table`);
  const kiln = tool.kiln;
  if (kiln === undefined) return {};
  if (!isTable(kiln)) throw new KilnConfigError(`${path}: "tool.kiln" must be a table`);
  return kiln;
}

/** The nearest pyproject.toml's `[tool.kiln]`. Throws KilnConfigError. */
export function readKilnTable(cwd: string): KilnTable {
  const path = findPyproject(cwd);
  if (path === undefined) return { path, table: {} };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new KilnConfigError(`cannot read ${path}: ${String(error)}`);
  }
  return { path, table: parseKilnTable(text, path) };
}
