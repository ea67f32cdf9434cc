// Where runs live: <rootdir>/.kiln/runs/<run-id>/, plus `latest` (a symlink
// to the newest run id, or a plain file naming it where symlinks fail).
// Run ids sort by start time, so "newest" and pruning need no metadata.
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runsDir } from "../config/kiln-dir.js";

/** How many runs are kept per project unless KILN_KEEP_RUNS says otherwise. */
export const DEFAULT_KEEP_RUNS = 10;

const RUN_ID = /^\d{8}-\d{6}-\d{3}-[0-9a-f]{4}$/;

/** 20250101-120000-123-ab12: UTC start time plus a random suffix for concurrent runs. */
export function newRunId(now = Date.now()): string {
  const iso = new Date(now).toISOString(); // 2025-01-01T12:00:00.123Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${iso.slice(20, 23)}`;
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

export function createRunDir(base: string, runId: string): string {
  const dir = join(runsDir(base), runId);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Points `latest` at runId atomically (rename over the old link). */
export function markLatest(base: string, runId: string): void {
  const runs = runsDir(base);
  const link = join(runs, "latest");
  const tmp = join(runs, `.latest-${runId}`);
  try {
    symlinkSync(runId, tmp);
  } catch {
    writeFileSync(tmp, `${runId}\n`);
  }
  try {
    renameSync(tmp, link);
  } catch (error) {
    // A directory named `latest` (made by hand) cannot be replaced by rename.
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** Deletes the oldest runs beyond `keep`, never `current`. */
export function pruneRuns(base: string, current: string, keep: number): void {
  const runs = runsDir(base);
  const ids = readdirSync(runs)
    .filter((name) => RUN_ID.test(name))
    .sort();
  const excess = ids.length - Math.max(1, keep);
  for (const id of ids.slice(0, Math.max(0, excess))) {
    if (id !== current) rmSync(join(runs, id), { recursive: true, force: true });
  }
}

/** A KILN_KEEP_RUNS that is not a count of runs; a usage error (exit 4). */
export class KeepRunsError extends Error {}

/**
 * KILN_KEEP_RUNS, unset or empty for the default. Anything but a whole
 * number >= 1 is refused rather than read as the default: "0" or "-1" may
 * mean "keep nothing" or "keep everything" to whoever set it, and guessing
 * either silently deletes runs someone wanted or keeps runs they did not.
 */
export function keepRunsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.KILN_KEEP_RUNS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_KEEP_RUNS;
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new KeepRunsError(
      `KILN_KEEP_RUNS must be a whole number of runs to keep, at least 1 (the current run is always kept), got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/**
 * The run directory a user means: a run directory itself (has a manifest or
 * JSONL files), a `latest` link or file, or a project directory whose
 * .kiln/runs/latest names one.
 */
export function resolveRunDir(given: string): string {
  const path = resolve(given);
  if (isRunDir(path)) return path;
  const latestFile = isLatestFile(path) ? path : join(runsDir(path), "latest");
  const fromLatest = readLatest(latestFile);
  if (fromLatest !== undefined && isRunDir(fromLatest)) return fromLatest;
  throw new Error(
    `${given} is not a Kiln run directory (no manifest.json or results.jsonl), ` +
      "nor a project with .kiln/runs/latest",
  );
}

function isRunDir(path: string): boolean {
  return existsSync(join(path, "manifest.json")) || existsSync(join(path, "results.jsonl"));
}

function isLatestFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** The run directory `latest` (symlink or file) names, if any. */
export function readLatest(latest: string): string | undefined {
  try {
    const stat = lstatSync(latest);
    if (stat.isSymbolicLink()) return resolve(dirname(latest), readlinkSync(latest));
    if (stat.isFile()) return join(dirname(latest), readFileSync(latest, "utf8").trim());
  } catch {
    return undefined;
  }
  return undefined;
}
