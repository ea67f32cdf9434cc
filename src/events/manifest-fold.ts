// The manifest as a fold over a run's records: the one definition of what
// manifest.json says. The run recorder feeds it each record as it writes it
// (live); a reader of a run that has no usable manifest feeds it the records
// read back from the JSONL files (events/manifest.ts, rebuildManifest). Both
// see the same records, so both write the same manifest; what the records
// cannot say (the CLI's exit code, the file sizes, fallbacks for a record cut
// short before run:started) comes in a ManifestContext.
import { type Manifest, RUN_FORMAT_VERSION } from "./manifest.js";
import { OutcomeTally } from "./outcomes.js";
import {
  type CollectRecord,
  RECORD_FILES,
  type RecordFile,
  type RecordsByFile,
  type ResultRecord,
  recordFileName,
  type WorkerRecord,
} from "./records.js";

export interface ManifestContext {
  /** Fallbacks for a record without run:started (a run killed at its very start). */
  runId: string;
  kilnVersion: string;
  cwd: string;
  hostname: string;
  utcOffsetMinutes: number;
  /**
   * The exit code the CLI returned (live). Undefined on rebuild: run:finished's,
   * or pytest's INTERRUPTED (2) when the run never reached its end.
   */
  exitCode?: number;
  /** When the record was closed (live); undefined on rebuild: the last record's time. */
  closedAt?: number;
  /** Bytes written per file; the fold counts the lines itself. */
  bytes: Partial<Record<RecordFile, number>>;
}

/** cache.jsonl holds the registry's lookups, then "served" and "rootdir-mismatch" lines. */
type CacheLine = { type: string; fallbacks?: number };

type Started = Extract<WorkerRecord, { event: "run:started" }>;
type Ready = Extract<WorkerRecord, { event: "zygote:ready" }>;
type Finished = Extract<WorkerRecord, { event: "run:finished" }>;

export class ManifestFold {
  private started: Started | undefined;
  private ready: Ready | undefined;
  private finished: Finished | undefined;
  private rootdir: string | null = null;
  private pytestSeconds: number | null = null;
  private collection = { items: 0, errors: 0, skipped: 0, deselected: 0 };
  private readonly tally = new OutcomeTally();
  private workersStarted = 0;
  private crashedTests = 0;
  private readonly cache = { hits: 0, misses: 0, bypasses: 0 };
  private lastAt = 0;
  private readonly lines = Object.fromEntries(RECORD_FILES.map((file) => [file, 0])) as Record<
    RecordFile,
    number
  >;

  /** Folds in records appended to `file`, in the order they were written. */
  add(file: RecordFile, records: readonly object[]): void {
    this.lines[file] += records.length;
    for (const record of records) {
      switch (file) {
        case "collect":
          this.collect(record as CollectRecord);
          break;
        case "results":
          this.result(record as ResultRecord);
          break;
        case "workers":
          this.worker(record as WorkerRecord);
          break;
        case "cache":
          this.cacheLine(record as CacheLine);
          break;
        case "modules":
          break;
      }
    }
  }

  private collect(record: CollectRecord): void {
    if (record.type === "collection") {
      this.rootdir = record.rootdir;
      this.collection = {
        items: record.items,
        errors: record.errors,
        skipped: record.skipped,
        deselected: record.deselected,
      };
      this.tally.total.deselected += record.deselected;
    } else if (record.type === "error") this.tally.add(record.nodeid, "error");
    else if (record.type === "skipped") this.tally.add(record.nodeid, "skipped");
  }

  private result(record: ResultRecord): void {
    this.lastAt = Math.max(this.lastAt, record.at);
    // A crash is one failed phase (records.ts): pytest's categories apply,
    // a failure in "call", an error in setup or teardown.
    if (record.crashed) this.crashedTests++;
    this.tally.addPhase(record.nodeid, record);
  }

  private worker(record: WorkerRecord): void {
    this.lastAt = Math.max(this.lastAt, record.at);
    if (record.event === "run:started") this.started = record;
    else if (record.event === "zygote:ready") this.ready = record;
    else if (record.event === "run:finished") this.finished = record;
    else if (record.event === "session:finished") this.pytestSeconds = record.seconds;
    else if (record.event === "worker:spawn-requested") this.workersStarted++;
  }

  private cacheLine(record: CacheLine): void {
    if (record.type === "hit") this.cache.hits++;
    else if (record.type === "miss") this.cache.misses++;
    else if (record.type === "bypass") this.cache.bypasses++;
    else if (record.type === "served") this.cache.bypasses += record.fallbacks ?? 0;
  }

  manifest(context: ManifestContext): Manifest {
    const { started, finished } = this;
    const closedAt = context.closedAt ?? this.lastAt;
    return {
      format: "kiln-run",
      formatVersion: RUN_FORMAT_VERSION,
      runId: started?.runId ?? context.runId,
      kilnVersion: started?.kilnVersion ?? context.kilnVersion,
      python: this.ready?.python ?? null,
      pytestVersion: this.ready?.pytest ?? null,
      argv: started?.argv ?? [],
      cwd: started?.cwd ?? context.cwd,
      rootdir: this.rootdir,
      hostname: started?.hostname ?? context.hostname,
      utcOffsetMinutes: started?.utcOffsetMinutes ?? context.utcOffsetMinutes,
      workers: started?.workers ?? 0,
      dist: started?.dist ?? "",
      timeout: started?.timeout ?? null,
      startedAt: started?.at ?? closedAt,
      finishedAt: finished?.at ?? closedAt,
      pytestSeconds: this.pytestSeconds,
      // pytest's INTERRUPTED: the run did not reach its end.
      exitCode: context.exitCode ?? finished?.exitCode ?? 2,
      complete: finished !== undefined,
      collection: { ...this.collection },
      outcomes: { ...this.tally.total },
      perFile: this.tally.perFileObject(),
      workersStarted: this.workersStarted,
      crashedTests: this.crashedTests,
      cache: { ...this.cache },
      files: RECORD_FILES.map((kind) => ({
        name: recordFileName(kind),
        kind,
        lines: this.lines[kind],
        bytes: context.bytes[kind] ?? 0,
      })),
    };
  }
}

/** The manifest of a whole set of records. */
export function foldManifest(records: RecordsByFile, context: ManifestContext): Manifest {
  const fold = new ManifestFold();
  for (const file of RECORD_FILES) fold.add(file, records[file]);
  return fold.manifest(context);
}
