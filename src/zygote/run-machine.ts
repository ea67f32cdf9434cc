// The run's state machine on the supervisor side, without I/O: it owns the
// workers (asked of the zygote, connected over the socket), hands them groups
// of items, relays their reports to the zygote's pytest hooks, and turns a
// worker that dies mid-test into a failed test plus a fresh worker for the
// rest. Everything it does to the world goes through RunPorts (the clock,
// timers, signals, the two kinds of channel), so tests drive it with fake
// workers the way pytest-xdist tests its schedulers with fake nodes; the
// real ports are in run-controller.ts. A daemon or an exec pool drives the
// same machine: start a run, feed it items, stop it, observe its events.

import { OutcomeTally } from "../events/outcomes.js";
import type { WorkerToSupervisor } from "../protocol/messages.js";
import type { CollectedItem } from "../scheduler/grouping.js";
import { planGroups } from "../scheduler/plan.js";
import { WorkQueue } from "../scheduler/work-queue.js";
import { chooseWorkerCount } from "../scheduler/worker-count.js";
import { deathMessage, describeDeath, type WorkerDeath } from "./crash-message.js";
import {
  CONNECT_GRACE_MS,
  INTERRUPT_GRACE_MS,
  MAX_BARREN_DEATHS,
  type RunPhase,
  type RunPlan,
  type RunPorts,
  type RunSettings,
  type RunSummary,
  type StopKind,
  type Timer,
} from "./run-ports.js";
import { type WorkerState, WorkerTable } from "./worker-table.js";

export type CrashWhen = "setup" | "call" | "teardown";

export class RunMachine {
  private phaseNow: RunPhase = "collecting";
  private stopKind: StopKind | undefined;
  private items: string[] = [];
  /** Each worker's last reported node id: its late teardown report after a stop. */
  private readonly lastReported = new Map<number, string>();
  private queue = new WorkQueue([]);
  private readonly workers: WorkerTable;
  private interruptTimer: Timer | undefined;
  /** --pdb/--trace: one worker owns the terminal; its durations include the user's typing. */
  private interactive = false;
  private barrenDeaths = 0;
  /** Open-ended (settings.openEnded): more work may come until close(). */
  private open = false;
  /** Open-ended: workers told work:later, waiting for the next group. */
  private readonly parked: WorkerState[] = [];
  private readonly summary: RunSummary = {
    durations: new Map(),
    outcomes: new OutcomeTally(),
    running: false,
  };

  constructor(
    private readonly settings: RunSettings,
    private readonly ports: RunPorts,
  ) {
    this.workers = new WorkerTable(ports, settings.timeout);
  }

  get phase(): RunPhase {
    return this.phaseNow;
  }

  get result(): RunSummary {
    return this.summary;
  }

  /** Worker ids alive or not yet accounted for. */
  get workerIds(): number[] {
    return this.workers.ids;
  }

  // -- the run ----------------------------------------------------------------

  /** Collection is done (run:ready): plan the groups and start the workers. */
  start(plan: RunPlan): void {
    if (this.phaseNow === "running" || this.phaseNow === "finished") {
      throw new Error(`this is a bug in kiln: a run started twice (${this.phaseNow})`);
    }
    this.items = plan.items;
    this.workers.pluginOwnsTimeout = plan.pluginOwnsTimeout;
    this.summary.running = true;
    if (this.phaseNow === "stopping") {
      // Stopped while pytest collected (Ctrl-C, run:stop-requested): run nothing.
      this.maybeFinish();
      return;
    }
    this.phaseNow = "running";
    if (this.settings.openEnded) {
      // An agent's run: its workers are started by the first job (feed).
      this.open = true;
      return;
    }
    let workers = this.settings.workers;
    if (plan.serial !== undefined) {
      // The debugger prompts on the terminal: one worker at a time may own
      // it, and pytest's order is the one the user expects to step through.
      // (pytest-xdist refuses --pdb outright.)
      if (workers > 1) {
        this.ports.warn(
          `${plan.serial}: running the tests serially in one worker that owns the terminal (-n ${workers} ignored)`,
        );
      }
      workers = 1;
      this.interactive = true;
    } else if (this.settings.workersAuto) {
      const { dist } = this.settings;
      const choice = chooseWorkerCount({ ...plan, cores: workers, dist });
      workers = choice.workers;
      // Before the first worker:spawn: the zygote's progress output fits the count.
      this.ports.toZygote({ type: "run:planned", workers, note: choice.reason });
    }
    // Longest-first only pays with several workers; one worker keeps pytest's
    // order exactly, so `-n 1` (with -x, --sw, say) stops where pytest stops.
    const groups = planGroups({
      items: plan.items.map((nodeid, index) => ({ index, nodeid })),
      dist: this.settings.dist,
      workers,
      durations: plan.durations,
      first: plan.order?.first ?? 0,
      keep: plan.order?.keep ?? false,
    });
    this.queue = new WorkQueue(groups);
    const count = Math.min(Math.max(1, workers), groups.length);
    for (let i = 0; i < count; i++) this.spawnWorker();
    this.maybeFinish();
  }

  /**
   * Open-ended: one more group to run (a job an agent took). A waiting
   * worker takes it; else one is started if fewer than -n are alive (or
   * when one ends, settleWorker). A worker with nothing to do is told
   * work:later: it cannot simply wait holding its last test, since pytest
   * finishes a test's teardown only once it knows the next item
   * (runtestprotocol's nextitem) and the job's last report must reach the
   * coordinator before the job completes; so it runs that test as its last
   * and then waits. false when the run no longer takes work (stopping).
   */
  feed(items: readonly CollectedItem[]): boolean {
    if (!this.open || this.phaseNow !== "running") return false;
    this.queue.requeueFront(items);
    while (this.queue.remaining > 0) {
      const idle = this.parked.shift();
      if (idle === undefined) break;
      if (this.workers.has(idle) && idle.death === undefined) this.handOut(idle);
    }
    this.fillWorkers();
    return true;
  }

  /** Open-ended: start workers for waiting groups, up to -n alive. */
  private fillWorkers(): void {
    while (
      this.open &&
      this.phaseNow === "running" &&
      this.queue.remaining > 0 &&
      this.workers.size < this.settings.workers
    ) {
      this.spawnWorker();
    }
  }

  /** -x, --maxfail, Exit: schedule nothing more and let workers finish their test. */
  stop(): void {
    if (!this.beginStop("wind-down")) return;
    for (const worker of this.workers.all()) {
      if (worker.connected) this.ports.toWorker(worker.id, { type: "stop" });
    }
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
  interrupt(): void {
    this.beginStop("interrupt");
    this.stopKind = "interrupt";
    for (const worker of this.workers.all()) this.workers.signal(worker, "SIGINT");
    this.interruptTimer ??= this.ports.setTimer(INTERRUPT_GRACE_MS, () => this.kill());
    this.maybeFinish();
  }

  /** A second Ctrl-C, or the zygote is gone: no wind-down at all. */
  kill(): void {
    this.beginStop("kill");
    for (const worker of this.workers.all()) this.workers.signal(worker, "SIGKILL");
  }

  /** Enters stopping; false if the run had already stopped. */
  private beginStop(kind: StopKind): boolean {
    if (this.phaseNow === "stopping" || this.phaseNow === "finished") {
      // A Ctrl-C after -x still means tests cut short are not crashes; a
      // kill after either keeps what the stop was.
      if (kind === "interrupt") this.stopKind = kind;
      return false;
    }
    this.phaseNow = "stopping";
    this.stopKind = kind;
    this.queue.stop();
    this.open = false;
    this.parked.length = 0;
    return true;
  }

  // -- workers, as the zygote reports them ------------------------------------

  workerSpawned(workerId: number, pid: number): void {
    const worker = this.workers.get(workerId);
    const hadPid = worker?.pid !== undefined;
    // The zygote's fork() result: the pid in the supervisor's namespace,
    // which wins over what the worker itself said (worker:hello).
    if (worker) worker.pid = pid;
    this.ports.events.emit({ event: "worker:spawned", at: this.ports.now(), workerId, pid });
    // Connected before this arrived, in a PID namespace (no pid of its own
    // was usable), while the run was stopping: the signal it missed.
    if (worker?.connected && !hadPid && this.phaseNow === "stopping") {
      if (this.stopKind !== "wind-down") {
        this.workers.signal(worker, this.stopKind === "interrupt" ? "SIGINT" : "SIGKILL");
      }
    }
    if (worker) worker.pidFromZygote = true;
  }

  workerExited(death: WorkerDeath): void {
    this.ports.events.emit({
      event: "worker:exited",
      at: this.ports.now(),
      workerId: death.workerId,
      pid: death.pid,
      exitCode: death.exitCode,
      signal: death.signal,
    });
    const worker = this.workers.get(death.workerId);
    if (worker === undefined) return;
    worker.death = death;
    if (!worker.connected) {
      // It may have connected and died before we accepted the connection.
      worker.graceTimer = this.ports.setTimer(CONNECT_GRACE_MS, () => {
        worker.socketClosed = true;
        this.settleWorker(worker);
      });
      return;
    }
    this.settleWorker(worker);
  }

  // -- workers, over their socket ---------------------------------------------

  /**
   * pid: what the worker said its pid is; null from a worker in a PID
   * namespace, whose getpid() means nothing here. Only used until the
   * zygote's worker:spawned arrives (the two come on different channels).
   */
  workerConnected(workerId: number, pid: number | null): void {
    const worker = this.workers.get(workerId);
    if (worker === undefined) {
      throw new Error(`this is a bug in kiln: unknown worker kw${workerId} connected`);
    }
    if (!worker.pidFromZygote && pid !== null) worker.pid = pid;
    worker.connected = true;
    this.ports.events.emit({
      event: "worker:connected",
      at: this.ports.now(),
      workerId,
      pid: worker.pid ?? -1,
    });
    if (this.phaseNow === "stopping") {
      if (this.stopKind === "wind-down") this.ports.toWorker(workerId, { type: "stop" });
      else this.workers.signal(worker, this.stopKind === "interrupt" ? "SIGINT" : "SIGKILL");
    }
  }

  /**
   * Its stream stopped being kiln frames. Only user code writes anything but
   * frames into a worker's socket (its fd is out of the way,
   * protocol.move_out_of_the_way, but a test can still find it). Nothing that
   * worker says can be trusted any more: stop it now; its running test fails
   * with this reason and the rest of its group continues in a fresh worker.
   */
  workerCorrupted(workerId: number, problem: string): void {
    const worker = this.workers.get(workerId);
    if (worker === undefined) return;
    worker.corruption = problem;
    this.workers.signal(worker, "SIGKILL");
  }

  workerClosed(workerId: number): void {
    const worker = this.workers.get(workerId);
    if (worker === undefined) return;
    worker.socketClosed = true;
    this.settleWorker(worker);
  }

  workerMessage(workerId: number, message: WorkerToSupervisor, body: Uint8Array): void {
    const worker = this.workers.get(workerId);
    if (worker === undefined) {
      throw new Error(`this is a bug in kiln: a message from unknown worker kw${workerId}`);
    }
    // Being killed for what it wrote: frames that arrived with the bad one
    // (a test can write many in one go) are not to be believed either.
    if (worker.corruption !== undefined) return;
    switch (message.type) {
      case "work:wanted":
        this.handOut(worker);
        break;
      case "test:finished":
        this.testFinished(worker, message, body);
        break;
      case "warning:recorded":
        this.ports.toZygote(message);
        break;
      case "debugger:entered":
        // As pytest-timeout does when a debugger is active: the user's
        // session at the prompt is not a hung test.
        worker.inDebugger = true;
        this.workers.stopWatchdog(worker);
        break;
      case "run:exit":
        // Sent after the worker's last test:finished, so the zygote has
        // replayed that test before it ends its session with Exit.
        this.ports.toZygote({
          type: "run:exit",
          reason: message.reason,
          returncode: message.returncode,
          ...(message.interrupt === undefined ? {} : { interrupt: message.interrupt }),
        });
        // An agent serves many runs: the coordinator ends its own (the
        // message reaches it); the agent goes on.
        if (!this.open) this.stop();
        break;
      case "imports:recorded":
        this.ports.events.emit({
          event: "imports:recorded",
          at: this.ports.now(),
          workerId,
          files: message.files,
          session: message.session,
        });
        break;
      case "worker:hello":
      case "worker:done":
        break;
    }
  }

  /**
   * A new worker with its first group: the zygote hands the group over in
   * the fork, so the worker starts its first test as soon as it is set up
   * instead of asking for work and waiting (as pytest-xdist's LoadScheduling
   * sends each node its initial items up front). Until it says hello the
   * group is not being run: a worker that dies before then ran no test
   * (runningTest), and the group goes back to the queue.
   */
  private spawnWorker(): void {
    const group = this.queue.next();
    const worker = this.workers.spawn(group?.items.map((item) => item.index));
    if (group !== undefined) this.workers.progress(worker);
  }

  private handOut(worker: WorkerState): void {
    const group = this.queue.next();
    if (group === undefined) {
      if (this.open && this.phaseNow === "running") {
        // An agent's worker finishes its group (as its last: pytest's
        // nextitem None) and waits for the next job, instead of ending and
        // a new worker being forked for it.
        this.parked.push(worker);
        this.ports.toWorker(worker.id, { type: "work:later" });
        return;
      }
      this.ports.toWorker(worker.id, { type: "work:none" });
      return;
    }
    const indices = group.items.map((item) => item.index);
    const idle = worker.assigned.length === 0;
    worker.assigned.push(...indices);
    // An idle worker starts its watchdog with this work: one that hangs in
    // its first test is killed too (found by run-machine.test.ts: the
    // watchdog used to start only after a worker's first finished test).
    if (idle) this.workers.progress(worker);
    this.ports.toWorker(worker.id, { type: "work", indices });
  }

  private testFinished(
    worker: WorkerState,
    message: Extract<WorkerToSupervisor, { type: "test:finished" }>,
    body: Uint8Array,
  ): void {
    // A worker runs its items in the order it was handed them and reports
    // each once, as it ends (report_sender.py: one test:finished at
    // logfinish); after a stop it may report the last one's teardown again,
    // a teardown alone (worker.py _teardown_rest). Anything else was written by user code in
    // the worker, which can find its channel (tests/security/): as for
    // garbage on the channel, nothing that worker says can be trusted, so
    // it is stopped and its running test fails with the reason. A test
    // named in a forged report keeps the result its own run gives it.
    const running = worker.assigned[0];
    const isRunning = running !== undefined && this.items[running] === message.nodeid;
    const lateTeardown =
      this.lastReported.get(worker.id) === message.nodeid &&
      message.reports.every((report) => report.when === "teardown");
    if (!isRunning && !lateTeardown) {
      const runningNow = running === undefined ? "no test" : this.items[running];
      this.workerCorrupted(
        worker.id,
        `it sent a result for ${message.nodeid} while it was running ${runningNow}`,
      );
      return;
    }
    if (isRunning) worker.assigned.shift();
    this.lastReported.set(worker.id, message.nodeid);
    let total = 0;
    for (const report of message.reports) total += report.duration;
    if (!this.interactive) this.summary.durations.set(message.nodeid, total);
    worker.ranTests++;
    for (const report of message.reports) this.summary.outcomes.addPhase(message.nodeid, report);
    worker.inDebugger = false;
    this.workers.progress(worker);
    this.ports.events.emit({
      event: "test:finished",
      at: this.ports.now(),
      workerId: worker.id,
      nodeid: message.nodeid,
      location: message.location,
      reports: message.reports,
    });
    // The zygote replays it from the body; it needs no report metadata.
    const { reports: _, v: __, ...replay } = message;
    this.ports.toZygote({ ...replay, workerId: worker.id }, body);
  }

  // -- internals --------------------------------------------------------------

  /** Both the process exit and the end of its socket are known: account for it. */
  private settleWorker(worker: WorkerState): void {
    const death = worker.death;
    if (death === undefined || !worker.socketClosed || !this.workers.has(worker)) return;
    worker.graceTimer?.cancel();
    this.workers.stopWatchdog(worker);
    this.workers.delete(worker);
    const running = this.runningTest(worker, death);
    if (running !== undefined) {
      this.reportCrash(worker, running, death);
      worker.assigned.shift();
    }
    const clean = death.exitCode === 0 && running === undefined;
    if (!clean && worker.ranTests === 0 && running === undefined) this.barrenDeaths++;
    const unfinished = worker.assigned.map((index) => ({ index, nodeid: this.items[index] ?? "" }));
    if (this.phaseNow === "running") {
      if (this.barrenDeaths >= MAX_BARREN_DEATHS) {
        this.abandon(unfinished, death);
      } else {
        if (unfinished.length > 0) this.queue.requeueFront(unfinished);
        if (unfinished.length > 0 || (!clean && this.queue.remaining > 0)) this.spawnWorker();
        this.fillWorkers();
      }
    }
    this.maybeFinish();
  }

  /**
   * A worker runs its items in order and reports each at its end, so when it
   * dies the first unfinished item is the one it was running. Only a worker
   * told to stop may leave items unfinished without having crashed.
   */
  private runningTest(
    worker: WorkerState,
    death: WorkerDeath,
  ): { nodeid: string; startedAt: number } | undefined {
    const index = worker.assigned[0];
    if (index === undefined || !worker.connected) return undefined;
    if (this.phaseNow === "stopping" && death.exitCode === 0) return undefined;
    // pytest reports nothing for the test Ctrl-C cut short.
    if (this.stopKind === "interrupt") return undefined;
    return { nodeid: this.items[index] ?? "", startedAt: worker.progressAt };
  }

  /**
   * Workers keep dying before they run anything (a broken fork, a plugin that
   * kills the process at import): fail every test not run yet, so nothing is
   * silently lost and the exit code says so.
   */
  private abandon(unfinished: { index: number; nodeid: string }[], death: WorkerDeath): void {
    const deaths = `${this.barrenDeaths} Kiln workers died before running a test (the last ${describeDeath(death)})`;
    const why = `${deaths}; this test was not run.`;
    this.ports.warn(`${deaths}; giving up.`);
    const never = this.queue.stop().flatMap((group) => group.items);
    this.beginStop("wind-down");
    for (const item of [...unfinished, ...never]) {
      this.failTest({ workerId: 0, nodeid: item.nodeid, when: "setup", message: why, duration: 0 });
    }
  }

  private reportCrash(
    worker: WorkerState,
    test: { nodeid: string; startedAt: number },
    death: WorkerDeath,
  ): void {
    this.summary.outcomes.add(test.nodeid, "failed");
    const timeout = this.settings.timeout;
    const message = deathMessage({
      nodeid: test.nodeid,
      death,
      timeout,
      stack: timeout === null ? "" : this.ports.readStack(worker.id),
      ranMs: this.ports.now() - test.startedAt,
      corruption: worker.corruption,
    });
    // The worker could not say which phase it was in; like xdist's crash
    // report, the test fails in its call (pytest shows it under FAILURES).
    this.failTest({
      workerId: worker.id,
      nodeid: test.nodeid,
      when: "call",
      message,
      duration: (this.ports.now() - test.startedAt) / 1000,
    });
  }

  /** A test that could not report for itself fails, in the zygote's pytest hooks. */
  private failTest(crash: {
    workerId: number;
    nodeid: string;
    when: CrashWhen;
    message: string;
    duration: number;
  }): void {
    this.ports.events.emit({ event: "test:crashed", at: this.ports.now(), ...crash });
    this.ports.toZygote({ type: "test:crashed", ...crash });
  }

  private maybeFinish(): void {
    // Before start() (run:ready) the zygote is not serving yet: a stop during
    // collection finishes once it is.
    if (!this.summary.running || this.phaseNow === "finished") return;
    if (this.workers.size > 0) return;
    if (this.phaseNow === "running" && (this.queue.remaining > 0 || this.open)) return;
    this.phaseNow = "finished";
    this.interruptTimer?.cancel();
    this.ports.toZygote({ type: "run:finish" });
  }
}
