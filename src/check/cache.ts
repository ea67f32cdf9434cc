// `.kiln/check-cache.json`: what `kiln check` learned about each file, so the
// next run re-analyses only what changed. A file's entry is valid for the
// same sha256 of its bytes (from the project's one hash cache,
// discovery/file-index.ts, which decides by stat when that is safe); the
// module name and package flag are part of the key too (they change how
// relative imports resolve). Problems are cached per file and reused for
// every module that neither changed nor imports (transitively) a change.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { checkCachePath } from "../config/kiln-dir.js";
import type { ModuleAnalysis } from "./rules.js";

// 3: analyses carry computedImports.
export const CHECK_CACHE_VERSION = 3;

export interface CachedProblem {
  line: number;
  message: string;
}

export interface CachedFile {
  sha256: string;
  module: string;
  isPackage: boolean;
  analysis?: ModuleAnalysis;
  error?: CachedProblem;
  /** Absent until the file's module has been checked. */
  problems?: CachedProblem[];
}

/** Identifies the interpreter without running it: its syntax rules shape the analysis. */
export interface InterpreterStamp {
  path: string;
  size: number;
  mtimeNs: string;
}

export interface CheckCache {
  version: number;
  interpreter?: InterpreterStamp;
  /** Namespace packages and extension modules seen last time. */
  otherModules: string[];
  topLevel: string[];
  files: Record<string, CachedFile>;
}

export function emptyCache(): CheckCache {
  return {
    version: CHECK_CACHE_VERSION,
    otherModules: [],
    topLevel: [],
    files: {},
  };
}

/** The cache, or an empty one when it is missing, unreadable, or from another version. */
export function loadCheckCache(root: string): CheckCache {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(checkCachePath(root), "utf8"));
  } catch {
    return emptyCache();
  }
  if (!isCache(raw)) return emptyCache();
  return raw;
}

function isCache(value: unknown): value is CheckCache {
  if (typeof value !== "object" || value === null) return false;
  const cache = value as Partial<CheckCache>;
  return (
    cache.version === CHECK_CACHE_VERSION &&
    Array.isArray(cache.otherModules) &&
    Array.isArray(cache.topLevel) &&
    typeof cache.files === "object" &&
    cache.files !== null &&
    !Array.isArray(cache.files)
  );
}

/** Write atomically (temp file + rename): a concurrent reader sees old or new, never half. */
export function saveCheckCache(root: string, cache: CheckCache): void {
  const path = checkCachePath(root);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(cache)}\n`);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
