// The run's state machine on the supervisor side: it owns the workers (asked
// of the zygote, connected over the socket), hands them groups of items,
// relays their reports to the zygote's pytest hooks, and turns a worker that
// dies mid-test into a failed test plus a fresh worker for the rest.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_TIMER_MS } from "../config/timer-limit.js";
import { OutcomeTally } from "../events/outcomes.js";
import type { RunEventSink } from "../events/run-events.js";
import type { RunOrder, WorkerToSupervisor, ZygoteToSupervisor } from "../protocol/messages.js";
import type { DistMode } from "../scheduler/grouping.js";
import { planGroups } from "../scheduler/plan.js";
import { WorkQueue } from "../scheduler/work-queue.js";
import {
  corruptionMessage,
  crashMessage,
  describeDeath,
  timeoutMessage,
  type WorkerDeath,
} from "./crash-message.js";
import type { WorkerChannel, WorkerConnectionHandlers } from "./worker-server.js";
import type { ZygoteHandle } from "./zygote-process.js";

export interface RunOptions {
  workers: number;
  dist: DistMode;
  /** Per-test timeout in seconds, or null. */
  timeout: number | null;
  scratchDir: string;
  /** Recorded durations for the project, read once its rootdir is known. */
  loadDurations(rootdir: string): Promise<ReadonlyMap<string, number>>;
  events: RunEventSink;
}

// A worker that does not die within this long after its own faulthandler
// deadline (a hang in C code that even the watchdog can't dump) is SIGKILLed.
const TIMEOUT_GRACE_MS = 5_000;
// After this many workers die before running anything, stop replacing them.
const MAX_BARREN_DEATHS = 3;
// A worker whose process exit arrives before its connection is waited for this long.
const CONNECT_GRACE_MS = 1_000;
/** How long an interrupted worker may take to tear down before it is killed. */
const INTERRUPT_GRACE_MS = 2_000;

// KILN_DEBUG=1 traces every message the supervisor receives, on stderr.
const DEBUG = Boolean(process.env.KILN_DEBUG);
function debug(line: string): void {
  process.stderr.write(`kiln debug ${Date.now() % 100000}: ${line}\n`);
}

interface RunningTest {
  index: number;
  nodeid: string;
  startedAt: number;
}

interface WorkerState {
  id: number;
  pid: number | undefined;
  channel: WorkerChannel | undefined;
  /** Item indices sent to this worker and not yet finished, in order. */
  assigned: number[];
  /** When the worker last finished a test or got work after idling. */
  progressAt: number;
  /** Kills a worker that makes no progress for --timeout plus a grace. */
  watchdog: NodeJS.Timeout | undefined;
  /** Its running test stopped in the debugger: no watchdog until it finishes. */
  inDebugger: boolean;
  ranTests: number;
  /** Why its channel can no longer be trusted, once a frame failed to decode. */
  corruption: string | undefined;
  death: WorkerDeath | undefined;
  socketClosed: boolean;
  settled: boolean;
  graceTimer: NodeJS.Timeout | undefined;
}

export interface RunSummary {
  /** Sum of phase durations per nodeid, for longest-first ordering next time. */
  durations: Map<string, number>;
  workersStarted: number;
  crashedTests: number;
  /** Outcomes of the tests that finished, as pytest's final line counts them. */
  outcomes: OutcomeTally;
  /** Whether collection had finished and tests were handed out (run:ready). */
  running: boolean;
}

export class RunController {
  /** What the zygote's finder served, reported at the end. */
  registryStats: { served: number; fallbacks: number; errors: string[] } | undefined;
  /** pytest's rootdir, known once collection finished. */
  rootdir: string | undefined;
  private items: string[] = [];
  private indexOf = new Map<string, number>();
  private queue = new WorkQueue([]);
  private readonly workers = new Map<number, WorkerState>();
  private nextWorkerId = 1;
  private stopping = false;
  /** Stopped by Ctrl-C/SIGTERM: a test cut short is not a crash. */
  private interrupted = false;
  private interruptTimer: NodeJS.Timeout | undefined;
  private finished = false;
  /** --pdb/--trace: one worker owns the terminal; its durations include the user's typing. */
  private interactive = false;
  private barrenDeaths = 0;
  /** pytest-timeout applies --timeout per test (its marks may allow longer). */
  private pluginOwnsTimeout = false;
  private readonly summary: RunSummary = {
    durations: new Map(),
    workersStarted: 0,
    crashedTests: 0,
    outcomes: new OutcomeTally(),
    running: false,
  };
  private resolveDone: (() => void) | undefined;
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    private readonly zygote: ZygoteHandle,
    private readonly options: RunOptions,
  ) {}

  get result(): RunSummary {
    return this.summary;
  }

  // -- zygote side ----------------------------------------------------------

  onZygoteMessage(message: ZygoteToSupervisor): void {
    if (DEBUG)
      debug(
        `zygote -> ${message.type === "collection:finished" || message.type === "run:ready" ? message.type : JSON.stringify(message)}`,
      );
    switch (message.type) {
      case "collection:finished":
        this.rootdir = message.rootdir;
        this.options.events.emit({
          event: "collection:finished",
          at: Date.now(),
          rootdir: message.rootdir,
          items: message.items,
          errors: message.errors,
          skipped: message.skipped ?? [],
          deselected: message.deselected ?? 0,
        });
        break;
      case "run:ready": {
        this.pluginOwnsTimeout = message.timeoutOwner === "pytest-timeout";
        const rootdir = this.rootdir ?? "";
        void this.options
          .loadDurations(rootdir)
          .catch(() => new Map<string, number>())
          .then((durations) => this.start(message.items, durations, message.serial, message.order));
        break;
      }
      case "worker:spawned": {
        const worker = this.workers.get(message.workerId);
        if (worker) worker.pid = message.pid;
        this.options.events.emit({
          event: "worker:spawned",
          at: Date.now(),
          workerId: message.workerId,
          pid: message.pid,
        });
        break;
      }
      case "worker:exited":
        this.onWorkerExited(message);
        break;
      case "run:stop-requested":
        this.options.events.emit({
          event: "run:stop-requested",
          at: Date.now(),
          reason: message.reason,
        });
        this.stop();
        break;
      case "registry:stats":
        this.registryStats = message;
        this.options.events.emit({
          event: "registry:served",
          at: Date.now(),
          served: message.served,
          fallbacks: message.fallbacks,
          errors: message.errors,
        });
        this.options.events.emit({
          event: "modules:loaded",
          at: Date.now(),
          loads: (message.loads ?? []).map(([module, path, source]) => ({
            module,
            path,
            source: source === "registry" ? "registry" : "fallback",
          })),
        });
        break;
      case "registry:rootdir-mismatch":
        process.stderr.write(
          `kiln: warning: the module registry was prepared for ${message.prepared}, but pytest's ` +
            `rootdir is ${message.rootdir}; importing project modules normally for this run ` +
            "(this is a bug in kiln's rootdir rules, please report it)\n",
        );
        this.options.events.emit({
          event: "registry:rootdir-mismatch",
          at: Date.now(),
          prepared: message.prepared,
          rootdir: message.rootdir,
        });
        break;
      case "session:finished":
      case "hello":
      case "hello:refused":
        break;
    }
  }

  private start(
    items: string[],
    durations: ReadonlyMap<string, number>,
    serial: string | undefined,
    order: RunOrder | undefined,
  ): void {
    this.items = items;
    this.summary.running = true;
    let workers = this.options.workers;
    if (serial !== undefined) {
      // The debugger prompts on the terminal: one worker at a time may own
      // it, and pytest's order is the one the user expects to step through.
      // (pytest-xdist refuses --pdb outright.)
      if (workers > 1) {
        process.stderr.write(
          `kiln: ${serial}: running the tests serially in one worker that owns the terminal (-n ${workers} ignored)\n`,
        );
      }
      workers = 1;
      this.interactive = true;
    }
    this.indexOf = new Map(items.map((nodeid, index) => [nodeid, index]));
    // Longest-first only pays with several workers; one worker keeps pytest's
    // order exactly, so `-n 1` (with -x, --sw, say) stops where pytest stops.
    const groups = planGroups({
      items: items.map((nodeid, index) => ({ index, nodeid })),
      dist: this.options.dist,
      workers,
      durations,
      first: order?.first ?? 0,
      keep: order?.keep ?? false,
    });
    this.queue = new WorkQueue(groups);
    const count = Math.min(Math.max(1, workers), groups.length);
    for (let i = 0; i < count; i++) this.spawnWorker();
    this.maybeFinish();
  }

  private spawnWorker(): void {
    const id = this.nextWorkerId++;
    this.workers.set(id, {
      id,
      pid: undefined,
      channel: undefined,
      assigned: [],
      progressAt: Date.now(),
      watchdog: undefined,
      inDebugger: false,
      ranTests: 0,
      corruption: undefined,
      death: undefined,
      socketClosed: false,
      settled: false,
      graceTimer: undefined,
    });
    this.summary.workersStarted++;
    this.options.events.emit({ event: "worker:spawn-requested", at: Date.now(), workerId: id });
    this.zygote.send({ type: "worker:spawn", workerId: id });
  }

  /** -x, --maxfail, Ctrl-C: schedule nothing more and let workers wind down. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.queue.stop();
    for (const worker of this.workers.values()) worker.channel?.send({ type: "stop" });
    this.maybeFinish();
  }

  /**
   * Ctrl-C or SIGTERM, first time. As in a terminal, where the whole process
   * group gets SIGINT: each worker's running test ends with KeyboardInterrupt
   * at its own line, and the worker reports what it finished and where it
   * stopped (debugging.interrupt_run), which the zygote's "!!!
   * KeyboardInterrupt !!!" names as pytest does. A worker still alive after
   * INTERRUPT_GRACE_MS (a test that swallows KeyboardInterrupt) is killed.
   */
  interruptWorkers(): void {
    this.stopping = true;
    this.interrupted = true;
    this.queue.stop();
    for (const worker of this.workers.values()) this.signalWorker(worker, "SIGINT");
    this.interruptTimer ??= setTimeout(() => this.killWorkers(), INTERRUPT_GRACE_MS);
    this.interruptTimer.unref();
    this.maybeFinish();
  }

  /** A second Ctrl-C: no wind-down at all. */
  killWorkers(): void {
    this.stopping = true;
    this.queue.stop();
    for (const worker of this.workers.values()) this.signalWorker(worker, "SIGKILL");
  }

  private signalWorker(worker: WorkerState, signal: NodeJS.Signals): void {
    if (worker.pid === undefined || worker.death !== undefined) return;
    try {
      process.kill(worker.pid, signal);
    } catch {
      // already gone
    }
  }

  // -- worker side ----------------------------------------------------------

  onWorkerConnected(
    workerId: number,
    pid: number,
    channel: WorkerChannel,
  ): ReturnType<WorkerConnectionHandlers["connected"]> {
    const worker = this.workers.get(workerId);
    if (worker === undefined) {
      throw new Error(`this is a bug in kiln: unknown worker kw${workerId} connected`);
    }
    worker.pid = pid;
    worker.channel = channel;
    this.options.events.emit({ event: "worker:connected", at: Date.now(), workerId, pid });
    if (this.stopping) channel.send({ type: "stop" });
    return {
      message: (message, body) => this.onWorkerMessage(worker, message, body),
      corrupted: (error) => {
        // Only user code writes anything but frames into a worker's socket
        // (its fd is out of the way, protocol.move_out_of_the_way, but a test
        // can still find it). Nothing that worker says can be trusted any
        // more: stop it now; its running test fails with this reason and the
        // rest of its group continues in a fresh worker.
        worker.corruption = error.message;
        this.signalWorker(worker, "SIGKILL");
      },
      closed: () => {
        worker.socketClosed = true;
        this.settleWorker(worker);
      },
    };
  }

  private onWorkerMessage(worker: WorkerState, message: WorkerToSupervisor, body: Buffer): void {
    if (DEBUG) debug(`kw${worker.id} -> ${JSON.stringify(message)}`);
    switch (message.type) {
      case "work:wanted": {
        const group = this.queue.next();
        if (group === undefined) {
          worker.channel?.send({ type: "work:none" });
        } else {
          const indices = group.items.map((item) => item.index);
          if (DEBUG) debug(`kw${worker.id} <- work ${group.items.map((i) => i.nodeid).join(" ")}`);
          if (worker.assigned.length === 0) this.progress(worker);
          worker.assigned.push(...indices);
          worker.channel?.send({ type: "work", indices });
        }
        break;
      }
      case "test:finished": {
        let total = 0;
        for (const report of message.reports) total += report.duration;
        if (!this.interactive) this.summary.durations.set(message.nodeid, total);
        worker.ranTests++;
        for (const report of message.reports)
          this.summary.outcomes.addPhase(message.nodeid, report);
        const index = this.indexOf.get(message.nodeid);
        const at = index === undefined ? -1 : worker.assigned.indexOf(index);
        if (at >= 0) worker.assigned.splice(at, 1);
        worker.inDebugger = false;
        this.progress(worker);
        this.options.events.emit({
          event: "test:finished",
          at: Date.now(),
          workerId: worker.id,
          nodeid: message.nodeid,
          location: message.location,
          reports: message.reports,
        });
        this.zygote.send(
          {
            type: "test:finished",
            workerId: worker.id,
            nodeid: message.nodeid,
            location: message.location,
            format: message.format,
            ...(message.unfinished ? { unfinished: true } : {}),
            ...(message.bodyFile === undefined ? {} : { bodyFile: message.bodyFile }),
          },
          body,
        );
        break;
      }
      case "warning:recorded":
        this.zygote.send(message);
        break;
      case "debugger:entered":
        // As pytest-timeout does when a debugger is active: the user's
        // session at the prompt is not a hung test.
        worker.inDebugger = true;
        if (worker.watchdog) clearTimeout(worker.watchdog);
        worker.watchdog = undefined;
        break;
      case "run:exit":
        // Sent after the worker's last test:finished, so the zygote has
        // replayed that test before it ends its session with Exit.
        this.zygote.send({
          type: "run:exit",
          reason: message.reason,
          returncode: message.returncode,
          ...(message.interrupt === undefined ? {} : { interrupt: message.interrupt }),
        });
        this.stop();
        break;
      case "worker:hello":
      case "worker:done":
        break;
    }
  }

  /** The worker moved on: restart its watchdog if it has work left. */
  private progress(worker: WorkerState): void {
    worker.progressAt = Date.now();
    if (worker.watchdog) clearTimeout(worker.watchdog);
    worker.watchdog = undefined;
    if (
      this.options.timeout !== null &&
      !this.pluginOwnsTimeout &&
      worker.assigned.length > 0 &&
      !worker.inDebugger
    ) {
      worker.watchdog = setTimeout(
        () => this.killHungWorker(worker),
        // Capped: Node clamps a longer delay to 1 ms (TimeoutOverflowWarning),
        // and the grace would push the largest allowed --timeout over it.
        Math.min(this.options.timeout * 1000 + TIMEOUT_GRACE_MS, MAX_TIMER_MS),
      );
    }
  }

  private killHungWorker(worker: WorkerState): void {
    if (worker.pid === undefined || worker.death !== undefined) return;
    try {
      process.kill(worker.pid, "SIGKILL");
    } catch {
      // it died on its own meanwhile
    }
  }

  private onWorkerExited(message: Extract<ZygoteToSupervisor, { type: "worker:exited" }>): void {
    this.options.events.emit({
      event: "worker:exited",
      at: Date.now(),
      workerId: message.workerId,
      pid: message.pid,
      exitCode: message.exitCode,
      signal: message.signal,
    });
    const worker = this.workers.get(message.workerId);
    if (worker === undefined) return;
    worker.death = {
      workerId: worker.id,
      pid: message.pid,
      exitCode: message.exitCode,
      signal: message.signal,
    };
    if (worker.channel === undefined) {
      // It may have connected and died before we accepted the connection.
      worker.graceTimer = setTimeout(() => {
        worker.socketClosed = true;
        this.settleWorker(worker);
      }, CONNECT_GRACE_MS);
      return;
    }
    this.settleWorker(worker);
  }

  /** Both the process exit and the end of its socket are known: account for it. */
  private settleWorker(worker: WorkerState): void {
    if (worker.settled || worker.death === undefined || !worker.socketClosed) return;
    worker.settled = true;
    if (worker.graceTimer) clearTimeout(worker.graceTimer);
    const death = worker.death;
    if (worker.watchdog) clearTimeout(worker.watchdog);
    const current = this.inferRunningTest(worker, death);
    if (current !== undefined) {
      this.reportCrash(worker, current, death);
      const at = worker.assigned.indexOf(current.index);
      if (at >= 0) worker.assigned.splice(at, 1);
    }
    this.workers.delete(worker.id);
    const clean = death.exitCode === 0 && current === undefined;
    if (!clean && worker.ranTests === 0 && current === undefined) this.barrenDeaths++;
    const unfinished = worker.assigned.map((index) => ({ index, nodeid: this.items[index] ?? "" }));
    if (this.barrenDeaths >= MAX_BARREN_DEATHS && !this.stopping) {
      this.abandon(unfinished, death);
    } else if (!this.stopping) {
      if (unfinished.length > 0) this.queue.requeueFront(unfinished);
      if (unfinished.length > 0 || (!clean && this.queue.remaining > 0)) this.spawnWorker();
    }
    this.maybeFinish();
  }

  /**
   * Workers keep dying before they run anything (a broken fork, a plugin that
   * kills the process at import): fail every test not run yet, so nothing is
   * silently lost and the exit code says so.
   */
  private abandon(unfinished: { index: number; nodeid: string }[], death: WorkerDeath): void {
    const why =
      `${this.barrenDeaths} Kiln workers died before running a test (the last ${describeDeath(death)}); ` +
      "this test was not run.";
    process.stderr.write(`kiln: ${why.replace("; this test was not run.", "")}; giving up.\n`);
    const never = this.queue.stop().flatMap((group) => group.items);
    this.stopping = true;
    for (const item of [...unfinished, ...never]) {
      this.failTest({ workerId: 0, nodeid: item.nodeid, when: "setup", message: why, duration: 0 });
    }
  }

  /** A test that could not report for itself fails, in the zygote's pytest hooks. */
  private failTest(crash: {
    workerId: number;
    nodeid: string;
    when: "setup" | "call" | "teardown";
    message: string;
    duration: number;
  }): void {
    this.options.events.emit({ event: "test:crashed", at: Date.now(), ...crash });
    this.zygote.send({ type: "test:crashed", ...crash });
  }

  /**
   * A worker runs its items in order and reports each at its end, so when it
   * dies the first unfinished item is the one it was running. Only a worker
   * told to stop may leave items unfinished without having crashed.
   */
  private inferRunningTest(worker: WorkerState, death: WorkerDeath): RunningTest | undefined {
    const index = worker.assigned[0];
    if (index === undefined) return undefined;
    if (this.stopping && death.exitCode === 0) return undefined;
    // pytest reports nothing for the test Ctrl-C cut short.
    if (this.interrupted) return undefined;
    return {
      index,
      nodeid: this.items[index] ?? "",
      startedAt: worker.progressAt,
    };
  }

  private reportCrash(worker: WorkerState, test: RunningTest, death: WorkerDeath): void {
    this.summary.crashedTests++;
    this.summary.outcomes.add(test.nodeid, "failed");
    const stack = this.readStack(worker.id);
    const timedOut =
      this.options.timeout !== null &&
      (stack.length > 0 || Date.now() - test.startedAt >= this.options.timeout * 1000);
    // The worker could not say which phase it was in; like xdist's crash
    // report, the test fails (pytest shows it under FAILURES).
    const when = "call";
    const message = timedOut
      ? timeoutMessage(test.nodeid, this.options.timeout ?? 0, death, stack)
      : worker.corruption !== undefined
        ? corruptionMessage(test.nodeid, death, worker.corruption)
        : crashMessage(test.nodeid, death);
    this.failTest({
      workerId: worker.id,
      nodeid: test.nodeid,
      when,
      message,
      duration: (Date.now() - test.startedAt) / 1000,
    });
  }

  private readStack(workerId: number): string {
    if (this.options.timeout === null) return "";
    try {
      return readFileSync(join(this.options.scratchDir, `worker-${workerId}.stack`), "utf8");
    } catch {
      return "";
    }
  }

  private maybeFinish(): void {
    if (this.finished) return;
    const idle = this.workers.size === 0;
    if (idle && (this.stopping || this.queue.remaining === 0)) {
      this.finished = true;
      if (this.interruptTimer) clearTimeout(this.interruptTimer);
      this.zygote.send({ type: "run:finish" });
      this.resolveDone?.();
    }
  }
}
