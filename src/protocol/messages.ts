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
  /** pytest's longreprtext, for failed reports only, clipped like `sections`. */
  longreprtext?: string;
  /** The crash line's message (longrepr.reprcrash.message), when the failure has one. */
  message?: string;
  /** A skipped report's longrepr: [path, lineno, reason]. */
  skip?: [string, number | null, string];
  /** report.wasxfail, the xfail reason ("" when none was given). */
  xfailReason?: string;
  /** record_property values, as [name, str(value)]. */
  userProperties?: [string, string][];
  /**
   * The captured output and log sections this phase added, [title, text]
   * (pytest's report.sections repeat the earlier phases'; the worker sends
   * each once). Each text is clipped to the worker's RECORD_TEXT_LIMIT: the
   * zygote, which prints, gets it whole in the body.
   */
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
  scratchDir: string;
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
      /** The test's protocol was cut short (Exit): no pytest_runtest_logfinish. */
      unfinished?: boolean;
      /** The body is in this file, not the frame (see the worker's test:finished). */
      bodyFile?: string;
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
  | { type: "run:finish" }
  /**
   * A worker's session ended with pytest's Exit, or a test raised
   * KeyboardInterrupt (`interrupt`: where, [file, line]); the zygote's session
   * ends the same way.
   */
  | {
      type: "run:exit";
      reason: string;
      returncode: number | null;
      interrupt?: [string, number];
    }
  /**
   * The pack the zygote's finder serves project modules from; null: none.
   * `rootdir`: the directory the pack was prepared for (pytest's rootdir as
   * src/config/rootdir.ts works it out); the zygote checks it against pytest's.
   */
  | { type: "registry:ready"; packPath: string | null; note: string; rootdir: string | null };

/**
 * What pytest's cache plugins did to the order of `items` (kiln_harness/cache_order.py):
 * `first` leading items were put first on purpose (--ff: previous failures,
 * --nf: new tests); `keep`: the rest's order is deliberate too (--nf, --sw).
 */
export interface RunOrder {
  first: number;
  keep: boolean;
  by: string | null;
}

export type ZygoteToSupervisor =
  | {
      type: "hello";
      python: PythonInfo;
      pytest: string;
      pid: number;
      /** importlib.util.MAGIC_NUMBER hex, cache tag and -O level: registry keys. */
      magic: string;
      cacheTag: string;
      optimize: number;
    }
  | {
      type: "registry:stats";
      served: number;
      fallbacks: number;
      errors: string[];
      /** [module, path, "registry" | "fallback"]; no load time: see kiln_harness/loader.py */
      loads?: [string, string, string][];
    }
  | { type: "hello:refused"; reason?: string; message: string; python?: PythonInfo }
  | {
      type: "collection:finished";
      rootdir: string;
      items: { nodeid: string; location: unknown[] }[];
      errors: { nodeid: string; longreprtext: string }[];
      /** Collectors skipped as a whole (module-level skip): str(report.longrepr). */
      skipped?: { nodeid: string; longrepr: string }[];
      deselected?: number;
    }
  /**
   * Collection succeeded (or errors are tolerated): schedule these items.
   * `serial` names the option (--pdb, --trace) that needs one worker owning
   * the terminal, whatever -n says; `order`: what pytest's cache plugins did.
   * `timeoutOwner`: who applies --timeout: "pytest-timeout" when that plugin
   * is active (python/kiln_harness/plugin_compat.py); the worker's own
   * watchdog then backs up each test's pytest-timeout value, so the
   * supervisor's no-progress watchdog (sized on --timeout alone) stays off.
   */
  | {
      type: "run:ready";
      items: string[];
      serial?: string;
      order?: RunOrder;
      timeoutOwner?: "kiln" | "pytest-timeout";
    }
  /** pytest's rootdir is not the one the registry was prepared for: plain imports from here on. */
  | { type: "registry:rootdir-mismatch"; prepared: string; rootdir: string }
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
      unfinished?: boolean;
      /**
       * A body larger than the worker's SPILL_BODY_AT (a test that printed
       * hundreds of MB) is written to this file in the run's scratch
       * directory; the zygote reads and deletes it. A frame size is never a
       * test failure.
       */
      bodyFile?: string;
    }
  | {
      type: "warning:recorded";
      warning: Record<string, unknown>;
      when: string;
      nodeid: string;
      location: unknown[] | null;
    }
  /** The debugger stopped the running test: no timeout applies to it any more. */
  | { type: "debugger:entered" }
  /**
   * pytest's Exit ended the worker's session (`q` in the debugger,
   * pytest.exit()), or a test raised KeyboardInterrupt at `interrupt`.
   */
  | {
      type: "run:exit";
      reason: string;
      returncode: number | null;
      interrupt?: [string, number];
    }
  | { type: "worker:done" };

export type SupervisorToWorker =
  | { type: "work"; indices: number[] }
  | { type: "work:none" }
  | { type: "stop" };
