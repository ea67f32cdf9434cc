// Messages between the supervisor, the zygote (fd 3) and workers (Unix socket).
// Mirror: python/kiln_harness/{zygote,pytest_bridge,worker}.py. Every header
// carries "v" (PROTOCOL_VERSION) and "type"; names read `domain:verb-past`
// for events and `domain:verb` for commands.

/**
 * How a test:finished body packs pytest's serialized reports (a list of
 * pytest_report_to_serializable dicts): marshal normally, JSON when a report
 * holds values marshal can't take. Opaque to the supervisor, which forwards it.
 */
export type ReportBodyFormat = "marshal" | "json";

/** What the supervisor reads of each report without unpacking the body. */
export interface ReportMeta {
  when: "setup" | "call" | "teardown";
  outcome: "passed" | "failed" | "skipped";
  duration: number;
  wasxfail: boolean;
  /** pytest's longreprtext, for failed reports only. */
  longreprtext?: string;
  /** Captured output and log sections, [title, text], only when present. */
  sections?: [string, string][];
  /** Epoch seconds when the phase started and stopped (pytest's report.start/stop). */
  start?: number;
  stop?: number;
}

export interface PythonInfo {
  executable: string;
  version: string;
  implementation: string;
}

/** Supervisor → zygote, first frame: the run's configuration. */
export interface HelloToZygote {
  type: "hello";
  args: string[];
  socketPath: string;
  workers: number;
  dist: string;
  timeout: number | null;
  stackDir: string;
  interpreterNote: string;
}

export type SupervisorToZygote =
  | HelloToZygote
  | { type: "worker:spawn"; workerId: number }
  | {
      type: "test:finished";
      workerId: number;
      nodeid: string;
      location: unknown[];
      format: ReportBodyFormat;
    }
  | {
      type: "test:crashed";
      workerId: number;
      nodeid: string;
      when: "setup" | "call" | "teardown";
      message: string;
      duration: number;
    }
  | {
      type: "warning:recorded";
      warning: Record<string, unknown>;
      when: string;
      nodeid: string;
      location: unknown[] | null;
    }
  | { type: "run:finish" };

export type ZygoteToSupervisor =
  | { type: "hello"; python: PythonInfo; pytest: string; pid: number }
  | { type: "hello:refused"; reason?: string; message: string; python?: PythonInfo }
  | {
      type: "collection:finished";
      rootdir: string;
      items: { nodeid: string; location: unknown[] }[];
      errors: { nodeid: string; longreprtext: string }[];
    }
  /** Collection succeeded (or errors are tolerated): schedule these items. */
  | { type: "run:ready"; items: string[] }
  | { type: "worker:spawned"; workerId: number; pid: number }
  | {
      type: "worker:exited";
      workerId: number;
      pid: number;
      exitCode: number | null;
      signal: number | null;
    }
  | { type: "run:stop-requested"; reason: string }
  | { type: "session:finished"; exitCode: number };

export type WorkerToSupervisor =
  | { type: "worker:hello"; workerId: number; pid: number }
  | { type: "work:wanted" }
  | {
      type: "test:finished";
      nodeid: string;
      location: unknown[];
      reports: ReportMeta[];
      format: ReportBodyFormat;
    }
  | {
      type: "warning:recorded";
      warning: Record<string, unknown>;
      when: string;
      nodeid: string;
      location: unknown[] | null;
    }
  | { type: "worker:done" };

export type SupervisorToWorker =
  | { type: "work"; indices: number[] }
  | { type: "work:none" }
  | { type: "stop" };
