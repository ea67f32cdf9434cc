// The isolation settings of `[tool.kiln]`: `isolate` and `[tool.kiln.limits]`,
// read from the table the one TOML reader returns (pyproject-kiln.ts). Other
// keys of `[tool.kiln]` belong to other features and are left to them.
import {
  type IsolationLimits,
  type IsolationProfile,
  LIMIT_KEYS,
  ProfileError,
  parseProfile,
} from "../sandbox/profiles.js";
import { isTable, KilnConfigError, readKilnTable, type TomlTable } from "./pyproject-kiln.js";

export { findPyproject, KilnConfigError } from "./pyproject-kiln.js";

export interface KilnConfig {
  /** The pyproject.toml read, if any. */
  path: string | undefined;
  isolate: IsolationProfile | undefined;
  limits: IsolationLimits;
}

export function loadKilnConfig(cwd: string): KilnConfig {
  const { path, table } = readKilnTable(cwd);
  return { path, ...isolationSettings(table, path ?? "pyproject.toml") };
}

/** `isolate` and the limits of a `[tool.kiln]` table read from `path`. */
export function isolationSettings(
  table: TomlTable,
  path: string,
): { isolate: IsolationProfile | undefined; limits: IsolationLimits } {
  let isolate: IsolationProfile | undefined;
  if (table.isolate !== undefined) {
    const where = `${path} [tool.kiln] isolate`;
    if (typeof table.isolate !== "string") {
      throw new KilnConfigError(`${where}: must be a string ("none", "hermetic" or "strict")`);
    }
    try {
      isolate = parseProfile(table.isolate, where);
    } catch (error) {
      if (error instanceof ProfileError) throw new KilnConfigError(error.message);
      throw error;
    }
  }
  const limits: IsolationLimits = {};
  const given = table.limits;
  if (given !== undefined) {
    if (!isTable(given)) throw new KilnConfigError(`${path}: [tool.kiln.limits] must be a table`);
    for (const [key, value] of Object.entries(given)) {
      const where = `${path} [tool.kiln.limits] ${key}`;
      const field = LIMIT_KEYS[key];
      if (field === undefined) {
        throw new KilnConfigError(
          `${where}: unknown limit ${JSON.stringify(key)}; known: ${Object.keys(LIMIT_KEYS).join(", ")}`,
        );
      }
      if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
        throw new KilnConfigError(`${where}: must be a whole number > 0, got ${String(value)}`);
      }
      limits[field] = value;
    }
  }
  return { isolate, limits };
}
