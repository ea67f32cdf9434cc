// The report module interface. A module reads a recorded run (the manifest
// and the intermediate files it subscribes to) and returns what to write; it
// never touches the file system or the clock itself, so rendering a run twice
// gives byte-identical files. A team's own module is an ESM file whose default
// export has this shape (`kiln report <dir> --report ./my-module.js`).
import type { Manifest } from "../events/manifest.js";
import type { OutcomeCounts, Status } from "../events/outcomes.js";
import type { CollectRecord, RecordFile, RecordsByFile, ResultRecord } from "../events/records.js";

/** One test, assembled from its phase records (results.jsonl). */
export interface TestCase {
  nodeid: string;
  /** The node id's path part, relative to the rootdir. */
  file: string;
  /** The worker that ran it (of its last phase); 0 when no worker did. */
  workerId: number;
  /** Its phases in the order they were recorded. */
  phases: ResultRecord[];
  /** The headline outcome: pytest's category for the call phase, else the worst phase. */
  outcome: "passed" | "failed" | "error" | "skipped" | "xfailed" | "xpassed";
  status: Status;
  /** Its worker died while running it (signal, os._exit, --timeout). */
  crashed: boolean;
  /** Sum of the phases' durations, in seconds. */
  duration: number;
}

/** One test file: its tests and its collection problems. */
export interface TestFile {
  path: string;
  tests: TestCase[];
  collectErrors: Extract<CollectRecord, { type: "error" }>[];
  collectSkips: Extract<CollectRecord, { type: "skipped" }>[];
  counts: OutcomeCounts;
  status: Status;
}

export interface ReportContext {
  /** The run directory being rendered (absolute). */
  runDir: string;
  /** manifest.json, or one rebuilt from the records when the run was killed. */
  manifest: Manifest;
  /** The subscribed files' records (the others are empty arrays). */
  records: RecordsByFile;
  /** Tests in the order their results were recorded (needs "results"). */
  tests: TestCase[];
  /** Test files sorted by path (needs "results" and "collect"). */
  files: TestFile[];
}

export interface ReportFile {
  /** Relative to the output directory, "/"-separated, no "..". */
  path: string;
  content: string | Uint8Array;
}

/** A line in the index's directory, e.g. a test file with its status. */
export interface DirectoryEntry {
  label: string;
  status: Status;
  /** A file this module wrote, relative to the output directory. */
  href?: string;
}

/** A section of the combined index page (index.html in the output directory). */
export interface IndexContribution {
  title: string;
  /** An HTML fragment; it must not fetch anything from the network. */
  html: string;
}

export interface ReportOutput {
  files: ReportFile[];
  entries?: DirectoryEntry[];
  index?: IndexContribution[];
  /** Text `kiln report` prints to the terminal (e.g. the summary line). */
  terminal?: string;
}

export interface ReportModule {
  /** What `--report` selects it by: lowercase letters, digits, "-". */
  id: string;
  /** A human name, used in the index and in error messages. */
  name: string;
  subscribes: readonly RecordFile[];
  render(context: ReportContext): ReportOutput | Promise<ReportOutput>;
}

export function isReportModule(value: unknown): value is ReportModule {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === "string" &&
    typeof v.name === "string" &&
    Array.isArray(v.subscribes) &&
    typeof v.render === "function"
  );
}
