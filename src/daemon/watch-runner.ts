// The "run tests" step of `kiln watch`, behind a small interface so that a
// warm daemon (issue 11's `kiln daemon`) can take the place of the in-process
// runner without the session noticing. The in-process runner selects with
// the same code `kiln test --affected-by` uses (affected-run.ts, hence
// selectAffected) and runs through the same path as `kiln test`
// (cli/recorded-run.ts -> zygote/run-tests.ts), in this Node process: a rerun
// starts a zygote, never a new Node.
import { recordedRun } from "../cli/recorded-run.js";
import type { TestOptions } from "../cli/test-options.js";
import { KilnConfigError } from "../config/pyproject-kiln.js";
import { emptyCounts, fileOfNodeid, type OutcomeCounts, OutcomeTally } from "../events/outcomes.js";
import type { RunEvent } from "../events/run-events.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { HelloToZygote } from "../protocol/messages.js";
import { SharedCompiler } from "../registry/shared-compiler.js";
import type { TestOutput } from "../zygote/run-tests.js";
import {
  discardZygote,
  holdZygote,
  type StartedZygote,
  startZygote,
} from "../zygote/zygote-start.js";
import { ChangeSourceError } from "./affected-inputs.js";
import { helloSelect, type PreparedSelection, prepareSelection } from "./affected-run.js";
import { findDaemon } from "./find-daemon.js";
import { StdioStandIn } from "./stdio-stand-in.js";
import { describePlan, filterFiles, type RunPlan } from "./watch-machine.js";

export interface RunSummary {
  /** Whether pytest ran; if not, `note` says why. */
  ran: boolean;
  /** pytest's exit status; null when nothing needed to run. */
  exitCode: number | null;
  counts: OutcomeCounts;
  /** Node ids that failed or errored (a collection error: its file). */
  failed: string[];
  seconds: number;
  note: string;
}

/** What a run reports while it goes: the counts so far, and pytest's output. */
export interface RunListener extends TestOutput {
  progress(counts: OutcomeCounts): void;
}

export interface TestRunner {
  run(plan: RunPlan, listener: RunListener): Promise<RunSummary>;
  /** Stops the current run: pytest's Ctrl-C first; `hard`: every process killed at once. */
  stop(hard: boolean): void;
  /** Ends whatever the runner keeps for the next run (the watch is quitting). */
  close(): void;
}

export interface InProcessRunnerOptions {
  cwd: string;
  interpreter: { path: string; how: string };
  options: TestOptions;
  pytestArgs: readonly string[];
  /** The watch command line, for the run records. */
  argv: readonly string[];
  /** Fork each run's zygote from the project's daemon when one runs (false: --no-daemon). */
  daemon: boolean;
}

export class InProcessRunner implements TestRunner {
  private listener: ((signal: NodeJS.Signals) => void) | undefined;
  /**
   * The next run's interpreter, started when the last run ended: Python's
   * start-up and pytest's import (the zygote imports both before it reads
   * its hello, and no project module) are done before the next edit comes,
   * as `kiln test` overlaps them with Node's start-up (cli/early-zygote.ts).
   * Nothing of the project is loaded in it, so it is never stale for an edit
   * of the project; it goes when the watch quits (or, if Kiln is killed, when
   * its hello never comes: the zygote exits on end of file).
   */
  private spare: StartedZygote | undefined;
  /** Whose stdio the daemon's forks take: output comes back to the watch (stdio-stand-in.ts). */
  private readonly standIn: StdioStandIn;
  /**
   * One compile server for the session, for the selection's analysis and the
   * registry's compile: no Python process is started per edit for either.
   */
  private readonly compiler: SharedCompiler;
  /**
   * Whether the daemon forked the last run's zygote: then no spare is kept
   * (the daemon is warmer, and a spare would cost a Python start per run).
   */
  private daemonServed = false;

  /** The last run's imports, not yet folded into .kiln/imports.json (recorded-run.ts). */
  private pendingFold: (() => void) | undefined;

  /** Folds the last run's imports, once: before the next selection reads them. */
  private foldImports(): void {
    const fold = this.pendingFold;
    this.pendingFold = undefined;
    fold?.();
  }

  constructor(private readonly config: InProcessRunnerOptions) {
    this.compiler = new SharedCompiler(config.interpreter.path);
    this.standIn = new StdioStandIn(config.interpreter.path, {
      stdout: (chunk) => process.stdout.write(chunk),
      stderr: (chunk) => process.stderr.write(chunk),
    });
  }

  close(): void {
    this.foldImports();
    if (this.spare !== undefined) discardZygote(this.spare);
    this.spare = undefined;
    this.standIn.close();
    void this.compiler.close();
  }

  private startSpare(): void {
    if (this.spare !== undefined || this.daemonServed) return;
    this.spare = startZygote(this.config.interpreter.path, this.config.cwd, process.env, true);
    // It must not keep Node running on its own (the watch decides when to end).
    holdZygote(this.spare, false);
  }

  /** The spare if it is still alive (else a fresh one), held for a run. */
  private takeZygote(): StartedZygote {
    const spare = this.spare;
    this.spare = undefined;
    if (spare?.child.ok) {
      const child = spare.child.process;
      if (child.exitCode === null && child.signalCode === null) {
        holdZygote(spare, true);
        // The run record's zygote span starts with this run: the spare's
        // start-up, maybe minutes ago, was no part of it.
        return { ...spare, startedAt: Date.now() };
      }
    }
    if (spare !== undefined) discardZygote(spare);
    const fresh = startZygote(this.config.interpreter.path, this.config.cwd, process.env, true);
    holdZygote(fresh, true);
    return fresh;
  }

  stop(hard: boolean): void {
    // run-tests.ts's own signal handling: the first SIGINT interrupts the
    // workers and the zygote as a terminal Ctrl-C would, the second kills
    // the zygote's process group (its workers with it) and exits.
    this.listener?.("SIGINT");
    if (hard) this.listener?.("SIGINT");
  }

  async run(plan: RunPlan, listener: RunListener): Promise<RunSummary> {
    // The selection below reads what the last run recorded.
    this.foldImports();
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const { cwd, interpreter, options } = this.config;
    let prepared: PreparedSelection;
    try {
      prepared = await prepareSelection({
        resolved: {
          source: {
            kind: "files",
            files: plan.scope.kind === "affected" ? [...plan.scope.changed] : [],
          },
          label: "watch",
          pytestArgs: [...this.config.pytestArgs],
        },
        cwd,
        python: interpreter.path,
        env: process.env,
        compiler: this.compiler,
      });
    } catch (error) {
      if (error instanceof ChangeSourceError || error instanceof KilnConfigError) {
        this.startSpare();
        return nothing(ExitCode.USAGE_ERROR, `kiln: error: ${error.message}`, seconds());
      }
      throw error;
    }
    const selected = seconds();
    const select = selectFor(plan, prepared);
    if (select !== undefined && select.files.length === 0) {
      this.startSpare();
      return nothing(null, `${select.note}; nothing to run`, seconds());
    }
    // Looked up per run: a daemon started or stopped during the watch counts.
    const daemon = this.config.daemon
      ? findDaemon(cwd, this.config.pytestArgs, process.env)
      : undefined;
    this.daemonServed = false;
    // The spare goes along unless the daemon served the last run (then
    // there is none): if the daemon refuses this one, the run starts from
    // it; if the daemon forks, run-tests.ts discards it.
    const zygote = daemon?.found === true && this.daemonServed ? undefined : this.takeZygote();
    const stdioPid = daemon?.found === true ? this.standIn.pid() : undefined;
    this.daemonServed = false;
    const pytestArgs = [...this.config.pytestArgs];
    if (plan.filters.name !== null) pytestArgs.push("-k", plan.filters.name);
    const tally = new OutcomeTally();
    const failed = new Set<string>();
    // KILN_DEBUG's per-phase timings (ms after the run began).
    const phases: string[] = [`selection ${(selected * 1000).toFixed(0)}`];
    const epoch = performance.timeOrigin + started;
    const observe = (event: RunEvent) => {
      if (PHASE_EVENTS.has(event.event)) {
        const ms = "ms" in event ? ` (${describeMs(event.ms)})` : "";
        phases.push(`${event.event} ${(event.at - epoch).toFixed(0)}${ms}`);
      }
      if (event.event === "test:finished") {
        for (const report of event.reports) {
          tally.addPhase(event.nodeid, report);
          if (report.outcome === "failed") failed.add(event.nodeid);
        }
      } else if (event.event === "test:crashed") {
        tally.add(event.nodeid, event.when === "call" ? "failed" : "error");
        failed.add(event.nodeid);
      } else if (event.event === "collection:finished") {
        for (const error of event.errors) {
          tally.add(error.nodeid, "error");
          failed.add(error.nodeid);
        }
      } else {
        return;
      }
      listener.progress({ ...tally.total });
    };
    const output = {
      stdout: (chunk: Buffer) => listener.stdout(chunk),
      stderr: (chunk: Buffer) => listener.stderr(chunk),
    };
    this.standIn.route(output);
    const { exitCode, foldImports } = await recordedRun({
      argv: [...this.config.argv],
      cwd,
      interpreter,
      options:
        options.registry === null
          ? options
          : { ...options, registry: { ...options.registry, compiler: this.compiler } },
      pytestArgs,
      ...(select === undefined ? {} : { select }),
      ...(zygote === undefined ? {} : { zygote }),
      ...(daemon === undefined ? {} : { daemon }),
      ...(stdioPid === undefined ? {} : { daemonStdioPid: stdioPid }),
      daemonUsed: (used) => {
        this.daemonServed = used;
      },
      takeSignals: (listener) => {
        this.listener = listener;
        return () => {
          this.listener = undefined;
        };
      },
      observe,
      output,
      deferImportsFold: true,
    });
    // After the result line is printed (a macrotask: the session prints in
    // this promise's continuation), or at the next run's start, whichever first.
    this.pendingFold = foldImports;
    setImmediate(() => this.foldImports());
    // The run's processes have exited: what they wrote is in the stand-in's
    // pipes, and it is read before the result line is printed.
    phases.push(`run returned ${(seconds() * 1000).toFixed(0)}`);
    if (stdioPid !== undefined) await this.standIn.sync();
    this.standIn.route();
    if (process.env.KILN_DEBUG) {
      phases.push(`output synced ${(seconds() * 1000).toFixed(0)}`);
      process.stderr.write(`kiln: debug: watch: ms after the run began: ${phases.join(", ")}\n`);
    }
    this.startSpare();
    return {
      ran: true,
      exitCode,
      counts: { ...tally.total },
      failed: [...failed].sort(),
      seconds: seconds(),
      note: select?.note ?? `kiln: watch: ${describePlan(plan)}`,
    };
  }
}

const PHASE_EVENTS = new Set([
  "zygote:spawned",
  "registry:prepared",
  "zygote:ready",
  "collection:finished",
  "session:finished",
  "zygote:exited",
  "run:finished",
]);

function describeMs(ms: Record<string, number>): string {
  return Object.entries(ms)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", ");
}

function nothing(exitCode: number | null, note: string, seconds: number): RunSummary {
  return { ran: false, exitCode, counts: emptyCounts(), failed: [], seconds, note };
}

/** The hello's selection for a plan; undefined: everything pytest's arguments name. */
export function selectFor(
  plan: RunPlan,
  prepared: PreparedSelection,
): HelloToZygote["select"] | undefined {
  const { candidates, rootdir } = prepared;
  const pattern = plan.filters.file;
  const described = describePlan(plan);
  switch (plan.scope.kind) {
    case "all":
      if (pattern === null) return undefined;
      return {
        rootdir,
        files: filterFiles(candidates, pattern),
        candidates,
        note: `kiln: watch: ${described}`,
      };
    case "affected": {
      const base = helloSelect(prepared);
      if (pattern === null) return base;
      const from = prepared.selection.all !== null ? candidates : base.files;
      return { ...base, files: filterFiles(from, pattern), candidates };
    }
    case "failed": {
      const files = filterFiles([...new Set(plan.scope.nodeids.map(fileOfNodeid))].sort(), pattern);
      // A collection error names its file: that file runs whole.
      const wholeFiles = plan.scope.nodeids.some((id) => !id.includes("::"));
      return {
        rootdir,
        files,
        candidates,
        note: `kiln: watch: ${described}`,
        ...(wholeFiles ? {} : { nodeids: [...plan.scope.nodeids] }),
      };
    }
  }
}
