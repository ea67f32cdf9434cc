// The run's state machine on the supervisor side: it owns the workers (asked
// of the zygote, connected over the socket), hands them groups of items,
// relays their reports to the zygote's pytest hooks, and turns a worker that
// dies mid-test into a failed test plus a fresh worker for the rest.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkerToSupervisor, ZygoteToSupervisor } from "../protocol/messages.js";
import { type DistMode, groupItems } from "../scheduler/grouping.js";
import { orderGroups } from "../scheduler/ordering.js";
import { WorkQueue } from "../scheduler/work-queue.js";
import { crashMessage, timeoutMessage, type WorkerDeath } from "./crash-message.js";
import type { WorkerChannel } from "./worker-server.js";
import type { ZygoteHandle } from "./zygote-process.js";

export interface RunOptions {
  workers: number;
  dist: DistMode;
  /** Per-test timeout in seconds, or null. */
  timeout: number | null;
  stackDir: string;
  /** Recorded durations for the project, read once its rootdir is known. */
  loadDurations(rootdir: string): Promise<ReadonlyMap<string, number>>;
}

// A worker that does not die within this long after its own faulthandler
// deadline (a hang in C code that even the watchdog can't dump) is SIGKILLed.
const TIMEOUT_GRACE_MS = 5_000;
// After this many workers die before running anything, stop replacing them.
const MAX_BARREN_DEATHS = 3;
// A worker whose process exit arrives before its connection is waited for this long.
const CONNECT_GRACE_MS = 1_000;

// KILN_DEBUG=1 traces every message the supervisor receives, on stderr.
const DEBUG = Boolean(process.env.KILN_DEBUG);
function debug(line: string): void {
  process.stderr.write(`kiln debug ${Date.now() % 100000}: ${line}\n`);
}

interface RunningTest {
  index: number;
  nodeid: string;
  startedAt: number;
  phases: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

interface WorkerState {
  id: number;
  pid: number | undefined;
  channel: WorkerChannel | undefined;
  /** Item indices sent to this worker and not yet finished, in order. */
  assigned: number[];
  current: RunningTest | undefined;
  ranTests: number;
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
}

export class RunController {
  /** pytest's rootdir, known once collection finished. */
  rootdir: string | undefined;
  private items: string[] = [];
  private indexOf = new Map<string, number>();
  private queue = new WorkQueue([]);
  private readonly workers = new Map<number, WorkerState>();
  private nextWorkerId = 1;
  private stopping = false;
  private finished = false;
  private barrenDeaths = 0;
  private readonly summary: RunSummary = {
    durations: new Map(),
    workersStarted: 0,
    crashedTests: 0,
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
        `zygote -> ${message.type === "collection:finished" ? message.type : JSON.stringify(message)}`,
      );
    switch (message.type) {
      case "collection:finished":
        this.rootdir = message.rootdir;
        void this.options
          .loadDurations(message.rootdir)
          .catch(() => new Map<string, number>())
          .then((durations) => this.start(message.items, durations));
        break;
      case "worker:spawned": {
        const worker = this.workers.get(message.workerId);
        if (worker) worker.pid = message.pid;
        break;
      }
      case "worker:exited":
        this.onWorkerExited(message);
        break;
      case "run:stop-requested":
        this.stop();
        break;
      case "session:finished":
      case "hello":
      case "hello:refused":
        break;
    }
  }

  private start(items: string[], durations: ReadonlyMap<string, number>): void {
    this.items = items;
    this.indexOf = new Map(items.map((nodeid, index) => [nodeid, index]));
    const grouped = groupItems(
      items.map((nodeid, index) => ({ index, nodeid })),
      this.options.dist,
    );
    // Longest-first only pays with several workers; one worker keeps pytest's
    // collection order, so `-n 1` (with -x, say) stops where pytest stops.
    const groups = this.options.workers > 1 ? orderGroups(grouped, durations) : grouped;
    this.queue = new WorkQueue(groups);
    const count = Math.min(Math.max(1, this.options.workers), groups.length);
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
      current: undefined,
      ranTests: 0,
      death: undefined,
      socketClosed: false,
      settled: false,
      graceTimer: undefined,
    });
    this.summary.workersStarted++;
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

  /** Ctrl-C: no clean wind-down, the zygote prints what finished. */
  killWorkers(): void {
    this.stopping = true;
    this.queue.stop();
    for (const worker of this.workers.values()) {
      if (worker.pid !== undefined && worker.death === undefined) {
        try {
          process.kill(worker.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }

  // -- worker side ----------------------------------------------------------

  onWorkerConnected(
    workerId: number,
    pid: number,
    channel: WorkerChannel,
  ): { message(m: WorkerToSupervisor, body: Buffer): void; closed(): void } {
    const worker = this.workers.get(workerId);
    if (worker === undefined) {
      throw new Error(`this is a bug in kiln: unknown worker kw${workerId} connected`);
    }
    worker.pid = pid;
    worker.channel = channel;
    if (this.stopping) channel.send({ type: "stop" });
    return {
      message: (message, body) => this.onWorkerMessage(worker, message, body),
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
          worker.assigned.push(...indices);
          worker.channel?.send({ type: "work", indices });
        }
        break;
      }
      case "test:started": {
        const index = this.indexOf.get(message.nodeid) ?? -1;
        const test: RunningTest = {
          index,
          nodeid: message.nodeid,
          startedAt: Date.now(),
          phases: new Set(),
          timer: undefined,
        };
        if (this.options.timeout !== null) {
          test.timer = setTimeout(
            () => this.killHungWorker(worker),
            this.options.timeout * 1000 + TIMEOUT_GRACE_MS,
          );
        }
        worker.current = test;
        this.zygote.send({ ...message, workerId: worker.id });
        break;
      }
      case "test:report": {
        worker.current?.phases.add(message.when);
        const previous = this.summary.durations.get(message.nodeid) ?? 0;
        this.summary.durations.set(message.nodeid, previous + message.duration);
        this.zygote.send(
          {
            type: "test:report",
            workerId: worker.id,
            nodeid: message.nodeid,
            when: message.when,
            outcome: message.outcome,
            duration: message.duration,
          },
          body,
        );
        break;
      }
      case "test:finished": {
        if (worker.current?.timer) clearTimeout(worker.current.timer);
        worker.current = undefined;
        worker.ranTests++;
        const index = this.indexOf.get(message.nodeid);
        const at = index === undefined ? -1 : worker.assigned.indexOf(index);
        if (at >= 0) worker.assigned.splice(at, 1);
        this.zygote.send({ ...message, workerId: worker.id });
        break;
      }
      case "warning:recorded":
        this.zygote.send(message);
        break;
      case "worker:hello":
      case "worker:done":
        break;
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
    const current = worker.current;
    if (current !== undefined) {
      if (current.timer) clearTimeout(current.timer);
      this.reportCrash(worker, current, death);
      const at = worker.assigned.indexOf(current.index);
      if (at >= 0) worker.assigned.splice(at, 1);
    }
    this.workers.delete(worker.id);
    const clean = death.exitCode === 0 && current === undefined;
    if (worker.assigned.length > 0 && !this.stopping) {
      if (worker.ranTests === 0 && current === undefined) this.barrenDeaths++;
      if (this.barrenDeaths >= MAX_BARREN_DEATHS) {
        process.stderr.write(
          `kiln: ${this.barrenDeaths} workers died before running a test (last: ` +
            `${death.signal !== null ? `signal ${death.signal}` : `status ${death.exitCode}`}); ` +
            "giving up on the remaining tests.\n",
        );
        this.stop();
      } else {
        this.queue.requeueFront(
          worker.assigned.map((index) => ({ index, nodeid: this.items[index] ?? "" })),
        );
        this.spawnWorker();
      }
    } else if (!clean && !this.stopping && this.queue.remaining > 0) {
      this.spawnWorker();
    }
    this.maybeFinish();
  }

  private reportCrash(worker: WorkerState, test: RunningTest, death: WorkerDeath): void {
    this.summary.crashedTests++;
    const stack = this.readStack(worker.id);
    const timedOut =
      this.options.timeout !== null &&
      (stack.length > 0 || Date.now() - test.startedAt >= this.options.timeout * 1000);
    const when = !test.phases.has("setup")
      ? "setup"
      : !test.phases.has("call")
        ? "call"
        : "teardown";
    const message = timedOut
      ? timeoutMessage(test.nodeid, this.options.timeout ?? 0, death, stack)
      : crashMessage(test.nodeid, death);
    this.zygote.send({
      type: "test:crashed",
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
      return readFileSync(join(this.options.stackDir, `worker-${workerId}.stack`), "utf8");
    } catch {
      return "";
    }
  }

  private maybeFinish(): void {
    if (this.finished) return;
    const idle = this.workers.size === 0;
    if (idle && (this.stopping || this.queue.remaining === 0)) {
      this.finished = true;
      this.zygote.send({ type: "run:finish" });
      this.resolveDone?.();
    }
  }
}
