// Everything that happens in a run, as data. The run controller emits these;
// sinks (the JSONL writer under .kiln/runs/<id>/, tests' recorders) consume
// them. Names read `domain:verb-past`. `at` is epoch milliseconds.
import type { PythonInfo, ReportMeta } from "../protocol/messages.js";

export type RunEvent =
  | {
      event: "run:started";
      at: number;
      runId: string;
      argv: string[];
      cwd: string;
      kilnVersion: string;
      python: string;
      workers: number;
      dist: string;
      timeout: number | null;
      /** For reports that show where the run happened (JUnit's hostname). */
      hostname: string;
      /** The local UTC offset at the start, so reports render local times deterministically. */
      utcOffsetMinutes: number;
    }
  | { event: "zygote:spawned"; at: number; pid: number }
  | { event: "zygote:ready"; at: number; pid: number; python: PythonInfo; pytest: string }
  | {
      event: "collection:finished";
      at: number;
      rootdir: string;
      items: { nodeid: string; location: unknown[] }[];
      errors: { nodeid: string; longreprtext: string }[];
      /** Collectors skipped as a whole (module-level skip): str(report.longrepr). */
      skipped: { nodeid: string; longrepr: string }[];
      deselected: number;
    }
  | { event: "worker:spawn-requested"; at: number; workerId: number }
  | { event: "worker:spawned"; at: number; workerId: number; pid: number }
  | { event: "worker:connected"; at: number; workerId: number; pid: number }
  | {
      event: "worker:exited";
      at: number;
      workerId: number;
      pid: number;
      exitCode: number | null;
      signal: number | null;
    }
  | {
      event: "test:finished";
      at: number;
      workerId: number;
      nodeid: string;
      location: unknown[];
      reports: ReportMeta[];
    }
  | {
      event: "test:crashed";
      at: number;
      workerId: number;
      nodeid: string;
      when: "setup" | "call" | "teardown";
      message: string;
      duration: number;
    }
  | {
      event: "zygote:exited";
      at: number;
      pid: number;
      exitCode: number | null;
      signal: string | null;
    }
  | { event: "run:stop-requested"; at: number; reason: string }
  | { event: "run:finished"; at: number; exitCode: number }
  /** pytest's session ended: its status, and the duration its summary line printed. */
  | { event: "session:finished"; at: number; exitCode: number; seconds: number | null }
  | {
      event: "registry:prepared";
      at: number;
      lookups: CacheLookup[];
      ms: { hash: number; lookup: number; compile: number; pack: number };
    }
  /**
   * pytest's rootdir differs from the one the registry was prepared for
   * (src/config/rootdir.ts got it wrong): the zygote stopped serving from the pack.
   */
  | { event: "registry:rootdir-mismatch"; at: number; prepared: string; rootdir: string }
  /** What the zygote's finder did: modules served from the pack, and fallbacks. */
  | { event: "registry:served"; at: number; served: number; fallbacks: number; errors: string[] }
  /**
   * Project files each test file loaded (kiln_harness/affected.py): from the
   * zygote's collection (workerId null) or a worker's tests.
   */
  | {
      event: "imports:recorded";
      at: number;
      workerId: number | null;
      files: Record<string, string[]>;
      session: string[];
    }
  /** Project modules the zygote loaded and where from (no load times: kiln_harness/loader.py). */
  | {
      event: "modules:loaded";
      at: number;
      loads: { module: string; path: string; source: "registry" | "fallback" | "level1" }[];
    }
  /**
   * Modules pytest.main imported from outside the project (the interpreter's,
   * installed packages'): what the daemon's level 0 imports (kiln_harness/daemon.py).
   */
  | { event: "modules:imported"; at: number; modules: { module: string; path: string }[] };

/** One project module's registry lookup: served from the store, compiled, or left to Python. */
export interface CacheLookup {
  module: string;
  path: string;
  outcome: "hit" | "miss" | "error";
  detail?: string;
}

export interface RunEventSink {
  emit(event: RunEvent): void;
}

export const NO_EVENTS: RunEventSink = { emit: () => {} };
