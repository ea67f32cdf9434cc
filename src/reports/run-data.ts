// Reading a recorded run back: the manifest and the intermediate files. A run
// that was killed has no manifest and may end in a torn line; both are
// tolerated (the torn line is skipped, the manifest is rebuilt from the
// records), so `kiln report` works on whatever a dead run left behind.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readJsonl } from "../events/jsonl.js";
import { type Manifest, RUN_FORMAT_VERSION } from "../events/manifest.js";
import { categorize, OutcomeTally } from "../events/outcomes.js";
import { printable } from "../events/printable.js";
import {
  RECORD_FILES,
  type RecordFile,
  type RecordsByFile,
  recordFileName,
} from "../events/records.js";

export interface LoadedRun {
  manifest: Manifest;
  records: RecordsByFile;
  /** Unparsable lines skipped, per file (a killed run's torn last line). */
  skippedLines: Partial<Record<RecordFile, number>>;
  /** Set when manifest.json existed but was unusable and was rebuilt; for a warning. */
  manifestProblem?: string;
}

export function emptyRecords(): RecordsByFile {
  return { collect: [], results: [], workers: [], cache: [], modules: [] };
}

export function loadRun(dir: string, files: Iterable<RecordFile> = RECORD_FILES): LoadedRun {
  const records = emptyRecords();
  const skippedLines: Partial<Record<RecordFile, number>> = {};
  const wanted = new Set(files);
  const manifestPath = join(dir, "manifest.json");
  const read = readManifest(manifestPath);
  // Rebuilding a manifest needs every file.
  if (read.manifest === undefined) for (const file of RECORD_FILES) wanted.add(file);
  for (const file of RECORD_FILES) {
    if (!wanted.has(file)) continue;
    const parsed = readJsonl<never>(join(dir, recordFileName(file)));
    (records[file] as unknown[]) = parsed.values;
    if (parsed.skipped > 0) skippedLines[file] = parsed.skipped;
  }
  const { manifest, problem } = read;
  if (manifest !== undefined) {
    if (manifest.format !== "kiln-run" || manifest.formatVersion > RUN_FORMAT_VERSION) {
      throw new Error(
        `${manifestPath}: unsupported run format ${String(manifest.format)} v${String(manifest.formatVersion)} ` +
          `(this Kiln reads kiln-run up to v${RUN_FORMAT_VERSION})`,
      );
    }
    return { manifest, records, skippedLines };
  }
  const rebuilt = rebuildManifest(dir, records);
  return problem === undefined
    ? { manifest: rebuilt, records, skippedLines }
    : { manifest: rebuilt, records, skippedLines, manifestProblem: problem };
}

/**
 * manifest.json if it is there and readable. A damaged one (truncated by a
 * full disk, edited by hand) is treated like a missing one, since the
 * records hold everything it summarises; `problem` says why for a warning.
 */
function readManifest(path: string): { manifest?: Manifest; problem?: string } {
  if (!existsSync(path)) return {};
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const why = printable(error instanceof Error ? error.message : String(error));
    return { problem: `${path} is unreadable (${why}); rebuilt it from the records` };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { problem: `${path} is not a JSON object; rebuilt it from the records` };
  }
  return { manifest: data as Manifest };
}

/** What the manifest would have said, from the records of a run that never wrote one. */
export function rebuildManifest(dir: string, records: RecordsByFile): Manifest {
  const tally = new OutcomeTally();
  const collection = { items: 0, errors: 0, skipped: 0, deselected: 0 };
  let rootdir: string | null = null;
  for (const record of records.collect) {
    if (record.type === "collection") {
      rootdir = record.rootdir;
      collection.items = record.items;
      collection.errors = record.errors;
      collection.skipped = record.skipped;
      collection.deselected = record.deselected;
      tally.total.deselected += record.deselected;
    } else if (record.type === "error") tally.add(record.nodeid, "error");
    else if (record.type === "skipped") tally.add(record.nodeid, "skipped");
  }
  let crashedTests = 0;
  for (const result of records.results) {
    if (result.crashed) crashedTests++;
    const category = categorize(result);
    if (category !== undefined) tally.add(result.nodeid, category);
  }
  let started: Extract<RecordsByFile["workers"][number], { event: "run:started" }> | undefined;
  let finished: Extract<RecordsByFile["workers"][number], { event: "run:finished" }> | undefined;
  let ready: Extract<RecordsByFile["workers"][number], { event: "zygote:ready" }> | undefined;
  let workersStarted = 0;
  let lastAt = 0;
  for (const event of records.workers) {
    lastAt = Math.max(lastAt, event.at);
    if (event.event === "run:started") started = event;
    else if (event.event === "run:finished") finished = event;
    else if (event.event === "zygote:ready") ready = event;
    else if (event.event === "worker:spawn-requested") workersStarted++;
  }
  for (const result of records.results) lastAt = Math.max(lastAt, result.at);
  const runId = started?.runId ?? dir.split("/").filter(Boolean).pop() ?? "unknown";
  return {
    format: "kiln-run",
    formatVersion: RUN_FORMAT_VERSION,
    runId,
    kilnVersion: started?.kilnVersion ?? "unknown",
    python: ready?.python ?? null,
    pytestVersion: ready?.pytest ?? null,
    argv: started?.argv ?? [],
    cwd: started?.cwd ?? dir,
    rootdir,
    hostname: started?.hostname ?? "",
    utcOffsetMinutes: started?.utcOffsetMinutes ?? 0,
    workers: started?.workers ?? 0,
    dist: started?.dist ?? "",
    timeout: started?.timeout ?? null,
    startedAt: started?.at ?? lastAt,
    finishedAt: finished?.at ?? lastAt,
    // pytest's INTERRUPTED: the run did not reach its end.
    exitCode: finished?.exitCode ?? 2,
    complete: finished !== undefined,
    collection,
    outcomes: tally.total,
    perFile: tally.perFileObject(),
    workersStarted,
    crashedTests,
    cache: { hits: 0, misses: 0, bypasses: 0 },
    files: RECORD_FILES.map((kind) => ({
      name: recordFileName(kind),
      kind,
      lines: records[kind].length,
      bytes: 0,
    })),
  };
}
