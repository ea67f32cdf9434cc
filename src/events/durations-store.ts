// Recorded per-test durations (.kiln/durations.json), the input of the
// scheduler's longest-first ordering; the file I/O lives here, beside the run
// records, so scheduler/ stays pure. The file is a cache: losing or
// corrupting it costs a less balanced run, never a failed one, so every read
// problem degrades to "no durations" plus a warning.
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { durationsPath, ensureKilnDir } from "../config/kiln-dir.js";
import { printable } from "./printable.js";

export const DURATIONS_VERSION = 1;

export interface LoadedDurations {
  durations: Map<string, number>;
  /** Set when the file existed but could not be used; for the caller to print. */
  warning?: string;
}

export async function loadDurations(rootdir: string): Promise<LoadedDurations> {
  const file = durationsPath(rootdir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return { durations: new Map() };
    return { durations: new Map(), warning: `ignoring ${file}: ${errorMessage(err)}` };
  }
  return parseDurations(text, file);
}

/** Parse the file's text; exported for tests and for `kiln report`-style tools. */
export function parseDurations(text: string, file: string): LoadedDurations {
  const empty = (why: string): LoadedDurations => ({
    durations: new Map(),
    warning: `ignoring ${file}: ${why}; test ordering falls back to collection order until the next run records durations`,
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return empty(`not valid JSON (${printable(errorMessage(err))})`);
  }
  if (!isRecord(data)) return empty("not a JSON object");
  if (data.version !== DURATIONS_VERSION) {
    return empty(
      `unsupported version ${printable(JSON.stringify(data.version) ?? "undefined")} (expected ${DURATIONS_VERSION})`,
    );
  }
  if (!isRecord(data.durations)) return empty('"durations" is not an object');
  const durations = new Map<string, number>();
  let invalid = 0;
  for (const [nodeid, seconds] of Object.entries(data.durations)) {
    if (isValidDuration(seconds)) durations.set(nodeid, seconds);
    else invalid++;
  }
  if (invalid > 0) {
    return {
      durations,
      warning: `ignoring ${invalid} invalid ${invalid === 1 ? "entry" : "entries"} in ${file}`,
    };
  }
  return { durations };
}

/**
 * Merge `recorded` into the stored durations (new values win) and write the
 * file atomically: a concurrent reader sees the old file or the new one,
 * never a torn one. Returns the warning from reading the old file, if any.
 */
export async function saveDurations(
  rootdir: string,
  recorded: ReadonlyMap<string, number>,
): Promise<string | undefined> {
  await ensureKilnDir(rootdir);
  const { durations, warning } = await loadDurations(rootdir);
  for (const [nodeid, seconds] of recorded) {
    if (isValidDuration(seconds)) durations.set(nodeid, seconds);
  }
  await writeDurationsFile(durationsPath(rootdir), durations);
  return warning;
}

/**
 * Writes `durations` as a durations file at `file`, atomically. Also the
 * merged run's durations.json (`kiln report --merge`), which a project can
 * take as its .kiln/durations.json.
 */
export async function writeDurationsFile(
  file: string,
  durations: ReadonlyMap<string, number>,
): Promise<void> {
  // Sorted keys keep the file stable across runs, which makes it diffable
  // when someone is investigating ordering.
  // Null prototype: a nodeid of "__proto__" must be a key, not a setter call.
  const sorted: Record<string, number> = Object.create(null);
  for (const nodeid of [...durations.keys()].sort()) {
    sorted[nodeid] = durations.get(nodeid) as number;
  }
  const text = `${JSON.stringify({ version: DURATIONS_VERSION, durations: sorted }, null, 2)}\n`;
  // Unique temp name: two concurrent runs must not write into the same temp
  // file. The last rename wins, which for a cache is fine. No fsync: a torn
  // file after a power loss just loads as empty with a warning.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function isValidDuration(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
