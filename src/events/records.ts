// The lines of a run's intermediate JSONL files, and how each run event maps
// onto them. These shapes are the contract between a run and its report
// modules (built-in or a team's own), so they change only with the manifest's
// format version.
import type { ReportMeta } from "../protocol/messages.js";
import type { RunEvent } from "./run-events.js";

/** The intermediate files, in the order the manifest lists them. */
export const RECORD_FILES = [
  "collect",
  "results",
  "workers",
  "cache",
  "modules",
  "imports",
] as const;
export type RecordFile = (typeof RECORD_FILES)[number];

export function recordFileName(file: RecordFile): string {
  return `${file}.jsonl`;
}

/** collect.jsonl: what collection found, in collection order. */
export type CollectRecord =
  | {
      type: "collection";
      at: number;
      rootdir: string;
      items: number;
      errors: number;
      skipped: number;
      deselected: number;
    }
  | { type: "item"; nodeid: string; location: unknown[] }
  | { type: "error"; nodeid: string; longreprtext: string }
  | { type: "skipped"; nodeid: string; longrepr: string };

/**
 * results.jsonl: one line per test phase (setup, call, teardown), in the order
 * the supervisor received them. `sections` holds only what the phase itself
 * captured (ReportMeta.sections). A test whose worker died gets one failed
 * phase with `crashed: true` and the crash message as its longrepr.
 */
export interface ResultRecord
  extends Omit<ReportMeta, "sections" | "userProperties" | "skip" | "wasxfail"> {
  nodeid: string;
  workerId: number;
  /** When the supervisor received the phase (epoch ms). */
  at: number;
  wasxfail: boolean;
  sections?: [string, string][];
  userProperties?: [string, string][];
  skip?: [string, number | null, string];
  crashed?: true;
}

/** A phase's sections as pytest had them (all sections up to and including it). */
export function cumulativeSections(
  phases: readonly ResultRecord[],
  index: number,
): [string, string][] {
  return phases.slice(0, index + 1).flatMap((phase) => phase.sections ?? []);
}

/** workers.jsonl: zygote, worker and run lifecycle events, verbatim. */
export type WorkerRecord = Extract<
  RunEvent,
  {
    event:
      | "run:started"
      | "zygote:spawned"
      | "zygote:ready"
      | "zygote:exited"
      | "worker:spawn-requested"
      | "worker:spawned"
      | "worker:connected"
      | "worker:exited"
      | "run:stop-requested"
      | "session:finished"
      | "run:finished";
  }
>;

/**
 * cache.jsonl: the bytecode registry's lookup per project module at start-up,
 * then one "served" line with what the zygote's finder served and where it
 * fell back. modules.jsonl: each project module the zygote loaded, and from where,
 * then the modules it imported from outside the project (source "installed").
 */
export interface CacheRecord {
  /** hit: served from the store; miss: compiled now; bypass: left to Python's import system. */
  type: "hit" | "miss" | "bypass";
  module: string;
  path: string;
  at: number;
  detail?: string;
}
export interface ModuleRecord {
  module: string;
  path: string;
  /**
   * registry: served from the pack; fallback: Python's own import (or
   * pytest's rewrite); level1: handed over by the daemon's level 1, which
   * imported it from the same file (kiln_harness/level1.py); installed: a module from outside the project
   * (modules:imported), which the daemon's level 0 imports ahead of a run.
   */
  source: "registry" | "compiled" | "fallback" | "level1" | "installed";
  at: number;
}

/**
 * imports.jsonl: the project files (relative to the rootdir) a test file
 * loaded, one line per test file and source; the test file "" is the zygote's
 * start-up outside any test module (conftests, plugins). The affected-test
 * selection folds these into `.kiln/imports.json` (daemon/imports-store.ts).
 */
export interface ImportRecord {
  test: string;
  /** null: the zygote, at collection; else the worker that ran the test file. */
  workerId: number | null;
  files: string[];
  at: number;
}

export interface RecordsByFile {
  collect: CollectRecord[];
  results: ResultRecord[];
  workers: WorkerRecord[];
  cache: CacheRecord[];
  modules: ModuleRecord[];
  imports: ImportRecord[];
}

export type RecordLines = { file: RecordFile; records: object[] };

/** Where one event goes: the file and the lines to append (pure). */
export function recordsOf(event: RunEvent): RecordLines | undefined {
  switch (event.event) {
    case "collection:finished": {
      const records: CollectRecord[] = [
        {
          type: "collection",
          at: event.at,
          rootdir: event.rootdir,
          items: event.items.length,
          errors: event.errors.length,
          skipped: event.skipped.length,
          deselected: event.deselected,
        },
      ];
      for (const e of event.errors) records.push({ type: "error", ...e });
      for (const s of event.skipped) records.push({ type: "skipped", ...s });
      for (const i of event.items) records.push({ type: "item", ...i });
      return { file: "collect", records };
    }
    case "test:finished": {
      // Each report's sections are already only what its phase added
      // (ReportMeta.sections), which is what the record keeps.
      const records = event.reports.map(
        (report): ResultRecord => ({
          nodeid: event.nodeid,
          workerId: event.workerId,
          at: event.at,
          ...report,
        }),
      );
      return { file: "results", records };
    }
    case "test:crashed": {
      const record: ResultRecord = {
        nodeid: event.nodeid,
        workerId: event.workerId,
        at: event.at,
        when: event.when,
        outcome: "failed",
        duration: event.duration,
        wasxfail: false,
        longreprtext: event.message,
        crashed: true,
      };
      return { file: "results", records: [record] };
    }
    case "registry:prepared": {
      const records = event.lookups.map(
        (lookup): CacheRecord => ({
          type: lookup.outcome === "error" ? "bypass" : lookup.outcome,
          module: lookup.module,
          path: lookup.path,
          at: event.at,
          ...(lookup.detail === undefined ? {} : { detail: lookup.detail }),
        }),
      );
      return { file: "cache", records };
    }
    case "registry:served":
      return { file: "cache", records: [{ type: "served", ...event }] };
    case "registry:rootdir-mismatch":
      return { file: "cache", records: [{ type: "rootdir-mismatch", ...event }] };
    case "modules:loaded":
      return {
        file: "modules",
        records: event.loads.map((l): ModuleRecord => ({ ...l, at: event.at })),
      };
    case "imports:recorded": {
      const records: ImportRecord[] = Object.entries(event.files).map(([test, files]) => ({
        test,
        workerId: event.workerId,
        files,
        at: event.at,
      }));
      if (event.session.length > 0) {
        records.push({ test: "", workerId: event.workerId, files: event.session, at: event.at });
      }
      return { file: "imports", records };
    }
    case "modules:imported":
      return {
        file: "modules",
        records: event.modules.map(
          (m): ModuleRecord => ({ ...m, source: "installed", at: event.at }),
        ),
      };
    default:
      return { file: "workers", records: [event] };
  }
}
