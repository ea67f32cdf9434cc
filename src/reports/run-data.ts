// Reading a recorded run back: the manifest and the intermediate files. A run
// that was killed has no manifest and may end in a torn line; both are
// tolerated (the torn line is skipped, the manifest is rebuilt from the
// records), so `kiln report` works on whatever a dead run left behind.
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { readJsonl } from "../events/jsonl.js";
import { type Manifest, RUN_FORMAT_VERSION } from "../events/manifest.js";
import { foldManifest } from "../events/manifest-fold.js";
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
  return { collect: [], results: [], workers: [], cache: [], modules: [], imports: [] };
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

/**
 * What the manifest would have said, from the records of a run that never
 * wrote one (or whose manifest is damaged): the same fold the recorder runs
 * live, so a complete run's rebuilt manifest is the one it wrote.
 */
export function rebuildManifest(dir: string, records: RecordsByFile): Manifest {
  const bytes: Partial<Record<RecordFile, number>> = {};
  for (const file of RECORD_FILES) {
    const size = statSync(join(dir, recordFileName(file)), { throwIfNoEntry: false })?.size;
    if (size !== undefined) bytes[file] = size;
  }
  return foldManifest(records, {
    runId: basename(resolve(dir)),
    kilnVersion: "unknown",
    cwd: dir,
    hostname: "",
    utcOffsetMinutes: 0,
    bytes,
  });
}
