// manifest.json: what a run directory holds and how the run ended, written
// once at the end (atomically). A run killed before its end has no manifest;
// readers then rebuild what they can from the JSONL files (see
// reports/run-data.ts).
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PythonInfo } from "../protocol/messages.js";
import type { OutcomeCounts } from "./outcomes.js";
import type { RecordFile } from "./records.js";

/** Bumped when a record or manifest field changes meaning or disappears. */
export const RUN_FORMAT_VERSION = 1;

export interface ManifestFile {
  name: string;
  /** Which intermediate file this is. */
  kind: RecordFile;
  lines: number;
  bytes: number;
}

export interface Manifest {
  format: "kiln-run";
  formatVersion: number;
  runId: string;
  kilnVersion: string;
  python: PythonInfo | null;
  pytestVersion: string | null;
  /** Kiln's own command line, as typed (without the node and script paths). */
  argv: string[];
  cwd: string;
  /** pytest's rootdir, or null when the run ended before collection finished. */
  rootdir: string | null;
  hostname: string;
  utcOffsetMinutes: number;
  workers: number;
  dist: string;
  timeout: number | null;
  /** Epoch milliseconds. */
  startedAt: number;
  finishedAt: number;
  /**
   * The session duration pytest's summary line printed ("in 1.23s"), from
   * pytest's own session start; null when it printed none (-qq, a crash).
   */
  pytestSeconds: number | null;
  exitCode: number;
  /** Whether the run reached its end (false: the record was closed on a crash path). */
  complete: boolean;
  collection: { items: number; errors: number; skipped: number; deselected: number };
  outcomes: OutcomeCounts;
  /** Outcome counts per test file (the node id's path part). */
  perFile: Record<string, OutcomeCounts>;
  workersStarted: number;
  crashedTests: number;
  /**
   * The registry's lookups at start-up (cache.jsonl's hit/miss/bypass lines);
   * bypasses include the modules the zygote's finder left to Python.
   */
  cache: { hits: number; misses: number; bypasses: number };
  files: ManifestFile[];
}

export function writeManifest(dir: string, manifest: Manifest): void {
  const path = join(dir, "manifest.json");
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, path);
}
