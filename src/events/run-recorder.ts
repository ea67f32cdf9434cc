// The run's recorder: a RunEventSink that appends every event to the JSONL
// files under <rootdir>/.kiln/runs/<run-id>/ and writes manifest.json at the
// end. emit() only queues the event; every FLUSH_MS the queue is turned into
// records, serialized and written in one tight loop, which costs a fraction of
// doing it event by event between the run's other work (measured: README).
// pytest's rootdir is known only when collection finishes, so nothing is
// written before that; a run that ends before collection is recorded under
// the working directory instead. Recording never fails a run: a file-system
// error is one warning, then the recorder goes quiet.
import { hostname } from "node:os";
import { join } from "node:path";
import { JsonlAppender } from "./jsonl.js";
import { type Manifest, writeManifest } from "./manifest.js";
import { ManifestFold } from "./manifest-fold.js";
import {
  RECORD_FILES,
  type RecordFile,
  type RecordLines,
  recordFileName,
  recordsOf,
} from "./records.js";
import { createRunDir, markLatest, pruneRuns } from "./run-dir.js";
import type { RunEvent, RunEventSink } from "./run-events.js";

/** How long events may wait in memory before they are written. */
const FLUSH_MS = 20;

export interface RecorderOptions {
  runId: string;
  /** Where the run is recorded if it ends before pytest names its rootdir. */
  cwd: string;
  kilnVersion: string;
  /** Runs kept per project (older ones are deleted when a new one starts). */
  keepRuns: number;
  warn(message: string): void;
}

export class RunRecorder implements RunEventSink {
  /** The run directory, once known. */
  dir: string | undefined;
  private queue: RunEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writers: Map<RecordFile, JsonlAppender> | undefined;
  private failed = false;
  private closed = false;
  /** The manifest, folded from the records as they are written (manifest-fold.ts). */
  private readonly fold = new ManifestFold();

  constructor(private readonly options: RecorderOptions) {}

  emit(event: RunEvent): void {
    if (this.closed) return;
    this.queue.push(event);
    if (event.event === "collection:finished" && this.writers === undefined) {
      this.open(event.rootdir);
      this.flush();
    } else if (this.writers !== undefined && this.timer === undefined) {
      // unref: a pending flush never keeps the process alive; finish() flushes.
      this.timer = setTimeout(() => this.flush(), FLUSH_MS).unref();
    }
  }

  /** Turns the queued events into records and writes them. */
  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const writers = this.writers;
    if (writers === undefined) return;
    const events = this.queue;
    this.queue = [];
    for (const event of events) {
      const lines: RecordLines | undefined = recordsOf(event);
      if (lines === undefined) continue;
      writers.get(lines.file)?.append(lines.records);
      this.fold.add(lines.file, lines.records);
    }
    this.guard(() => {
      for (const writer of writers.values()) writer.flush();
    });
  }

  /**
   * Closes the files and writes the manifest with the run's exit code (the
   * one the CLI returns). Returns the run directory, if recording worked.
   */
  finish(exitCode: number): string | undefined {
    if (this.closed) return this.dir;
    if (this.writers === undefined) this.open(this.options.cwd);
    this.closed = true;
    const writers = this.writers;
    const dir = this.dir;
    if (writers === undefined || dir === undefined || this.failed) return undefined;
    process.off("exit", this.flushOnExit);
    this.flush();
    this.guard(() => {
      for (const writer of writers.values()) writer.close();
      writeManifest(dir, this.manifest(exitCode, writers));
    });
    return this.failed ? undefined : dir;
  }

  private open(base: string): void {
    this.guard(() => {
      const dir = createRunDir(base, this.options.runId);
      const writers = new Map<RecordFile, JsonlAppender>();
      // Every file exists from the start, even those nothing appends to yet.
      for (const file of RECORD_FILES) {
        writers.set(file, new JsonlAppender(join(dir, recordFileName(file))));
      }
      this.dir = dir;
      this.writers = writers;
      // process.exit() (a second Ctrl-C) skips timers: write what is pending.
      process.once("exit", this.flushOnExit);
      markLatest(base, this.options.runId);
      pruneRuns(base, this.options.runId, this.options.keepRuns);
    });
  }

  private readonly flushOnExit = (): void => this.flush();

  private guard(action: () => void): void {
    if (this.failed) return;
    try {
      action();
    } catch (error) {
      this.failed = true;
      this.writers = new Map();
      this.queue = [];
      const where = this.dir ?? "the .kiln/runs directory";
      this.options.warn(`cannot record this run under ${where}: ${String(error)}`);
    }
  }

  private manifest(exitCode: number, writers: Map<RecordFile, JsonlAppender>): Manifest {
    const now = Date.now();
    return this.fold.manifest({
      runId: this.options.runId,
      kilnVersion: this.options.kilnVersion,
      cwd: this.options.cwd,
      hostname: hostname(),
      utcOffsetMinutes: -new Date(now).getTimezoneOffset(),
      exitCode,
      closedAt: now,
      bytes: Object.fromEntries([...writers].map(([file, writer]) => [file, writer.bytes])),
    });
  }
}
