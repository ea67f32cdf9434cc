// `kiln test --queue redis://…`: the coordinator's run engine. The zygote
// collects as in a local run; at run:ready the groups (--dist) become
// BullMQ jobs, longest first (plan.ts), and `kiln agent` processes run them.
// Each test's report comes back as job progress and is replayed into this
// zygote's pytest hooks exactly as a local worker's report would be
// (run-machine.ts testFinished): one terminal output, one run record, the
// same JUnit/HTML and exit code as a local run. The ledger (ledger.ts) keeps
// each test reported once whatever the queue re-runs.
//
// Never a hang, never a silent partial result: no agent within the wait, a
// refusal, Redis going away, or every agent leaving ends the session with
// pytest's Exit (run:exit, as pytest.exit() would), naming what was not run.
import { OutcomeTally } from "../events/outcomes.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { DEBUG, debug } from "../zygote/debug-trace.js";
import { RunMachine } from "../zygote/run-machine.js";
import type {
  RunEngine,
  RunEngineFactory,
  RunPlan,
  RunPorts,
  RunSettings,
  RunSummary,
} from "../zygote/run-ports.js";
import { AgentWatch } from "./agent-watch.js";
import type { TestProgress } from "./bull.js";
import { QueueThread } from "./bull-thread-client.js";
import { InOrder } from "./in-order.js";
import { ResultLedger } from "./ledger.js";
import { LocalFallback } from "./local-fallback.js";
import { planJobs } from "./plan.js";
import { REFUSAL_PREFIX } from "./queue-url.js";
import { replayReport } from "./replay.js";
import { type AgentArgs, runSpecKey, runSpecOf } from "./run-spec.js";
import { type AgentReport, readAgentReport } from "./wire.js";

export interface CoordinatorOptions {
  url: string;
  runId: string;
  /** How long to wait for an agent (at the start, and after every agent left). */
  agentWaitMs: number;
  /** --fallback-local: with no agent, run the tests here instead. */
  fallbackLocal: boolean;
  /** The run's pytest options as its agents take them (run-spec.ts agentArgsOf). */
  agentArgs: AgentArgs;
  /** The queue thread main.ts started for this URL (cli/early-queue.ts), if any. */
  thread?: QueueThread;
}

type Phase = "collecting" | "running" | "local" | "finished";

/** How many node ids a message lists before "and N more". */
const LISTED = 5;

function listTests(nodeids: readonly string[]): string {
  const shown = nodeids.slice(0, LISTED).join(", ");
  return nodeids.length > LISTED ? `${shown} and ${nodeids.length - LISTED} more` : shown;
}

export class QueueCoordinator extends LocalFallback implements RunEngine {
  private ports: RunPorts | undefined;
  private settings: RunSettings | undefined;
  private queue: QueueThread | undefined;
  private ledger: ResultLedger | undefined;
  private phase: Phase = "collecting";
  /** A connection lost before the run started, said at start. */
  private lostEarly: string | undefined;
  private readonly summary: RunSummary = {
    durations: new Map(),
    outcomes: new OutcomeTally(),
    running: false,
  };
  /** Each agent's number in the run record (as a local worker's kwN). */
  private readonly agentIds = new Map<string, number>();
  /** -x / --maxfail: reports replayed in pytest's order, up to the stop (in-order.ts). */
  private inOrder: InOrder | undefined;
  /** Where the run's spec is in Redis; every job names it (run-spec.ts). */
  private specKey: string | undefined;
  /** Every agent gone mid-run for --queue-wait ends the run (agent-watch.ts). */
  private readonly watch: AgentWatch;
  private closing: Promise<void> | undefined;

  /** The queue's connection, made while the zygote starts and collects. */
  private readonly connected: Promise<QueueThread>;
  /** Whether an agent connected within --queue-wait of the connection. */
  private readonly agentFound: Promise<boolean>;

  /**
   * BullMQ is loaded and connected at once (from main.ts when it could:
   * options.thread), in a thread of its own
   * (bull-thread.ts), while the zygote starts and collects. On this event
   * loop its loading (~700 CommonJS modules, 150-250 ms) delayed the
   * zygote's handshake or its collection by as much; started once the
   * zygote collected, in the thread, the run waited for it (measured with
   * KILN_DEBUG=1, BENCHMARKS.md issue 15). An unreachable Redis is said when
   * collection is done (or the tests run here with --fallback-local).
   * close() must follow (the thread keeps the process alive until then).
   */
  constructor(private readonly options: CoordinatorOptions) {
    super();
    this.watch = new AgentWatch(
      options.agentWaitMs,
      () => this.queue?.agentCount(),
      () => {
        if (this.phase !== "running") return;
        const missing = this.ledger?.unreported() ?? [];
        this.fail(
          `every kiln agent left the queue at ${options.url} (none connected for ` +
            `${(options.agentWaitMs / 1000).toFixed(1)}s) with ${missing.length} tests not ` +
            `reported (${listTests(missing)}); start \`kiln agent --queue ${options.url}\``,
        );
      },
    );
    if (DEBUG) debug(`queue: ${options.thread ? "took main.ts's" : "starting the"} queue thread`);
    const thread = options.thread ?? QueueThread.start(options.url);
    this.connected = thread.listen({
      progress: (jobId, batch) => {
        for (const progress of batch) this.onProgress(jobId, progress);
      },
      completed: (jobId) => this.onCompleted(jobId),
      failed: (jobId, reason) => this.onFailed(jobId, reason),
      connectionLost: (message) => this.onConnectionLost(message),
    });
    this.connected.then(
      (queue) => {
        if (DEBUG) debug("queue: connected");
        this.queue = queue;
      },
      () => undefined,
    );
    // Looked for while the zygote collects: at run:ready the jobs go out
    // at once rather than after a round trip (CLIENT LIST) to Redis.
    this.agentFound = this.connected.then(async (queue) => {
      const found = await queue.waitForAgent(options.agentWaitMs);
      if (DEBUG) debug(`queue: agent found: ${found}`);
      return found;
    });
    this.agentFound.catch(() => undefined);
  }

  /**
   * The run controller's factory (run-controller.ts RunOptions.engine),
   * called once the zygote was told to run pytest.
   */
  readonly engine: RunEngineFactory = (settings, ports) => {
    this.settings = settings;
    this.ports = ports;
    return this;
  };

  get result(): RunSummary {
    return this.local?.result ?? this.summary;
  }

  /** Resolves once the queue's connections are closed (the process can exit). */
  close(): Promise<void> {
    this.watch.stop();
    this.closing ??= this.connected.then(
      // Nothing is pending once the run ended (withdraw was awaited): the
      // connections go at once (a graceful close waited ~20 ms for
      // QueueEvents' blocking stream read, for nothing the run needs).
      (queue) => queue.close(0),
      () => undefined,
    );
    return this.closing;
  }

  private get bound(): { ports: RunPorts; settings: RunSettings } {
    if (this.ports === undefined || this.settings === undefined) {
      throw new Error("this is a bug in kiln: the queue coordinator was not bound to a run");
    }
    return { ports: this.ports, settings: this.settings };
  }

  start(plan: RunPlan): void {
    this.summary.running = true;
    if (this.phase === "finished") {
      this.bound.ports.toZygote({ type: "run:finish" });
      return;
    }
    this.begin(plan).catch((error: unknown) =>
      this.fail(`the queue at ${this.options.url} failed: ${String(error)}`),
    );
  }

  private async begin(plan: RunPlan): Promise<void> {
    const { ports, settings } = this.bound;
    const { url, runId, agentWaitMs } = this.options;
    if (this.lostEarly !== undefined) {
      this.fail(this.lostEarly);
      return;
    }
    const { maxfail } = this.options.agentArgs;
    const jobs = planJobs(runId, plan.items, settings.dist, plan.durations);
    if (maxfail > 0) {
      // pytest's order rather than longest first: the tests before the stop
      // come in first, and few run that pytest would not have.
      jobs.sort((a, b) => (a.indices[0] ?? 0) - (b.indices[0] ?? 0));
      this.inOrder = new InOrder(plan.items, maxfail, (nodeid, report) =>
        replayReport(this.bound.ports, this.summary, this.agentId(report.agent), nodeid, report),
      );
    }
    if (jobs.length === 0) {
      this.finish();
      return;
    }
    const runHere = (why: string) => {
      ports.warn(`${why}; running the tests here (--fallback-local)`);
      this.phase = "local";
      void this.close();
      this.local = new RunMachine(settings, ports);
      this.local.start(plan);
    };
    let queue: QueueThread;
    try {
      queue = await this.connected;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.options.fallbackLocal) runHere(message);
      else this.fail(`${message}; pass --fallback-local to run the tests here`);
      return;
    }
    const found = await this.agentFound;
    if (this.phase !== "collecting") return;
    const seconds = (agentWaitMs / 1000).toFixed(1);
    if (!found) {
      if (this.options.fallbackLocal) {
        runHere(`no kiln agent is connected to the queue at ${url} after ${seconds}s`);
        return;
      }
      return this.fail(
        `no kiln agent is connected to the queue at ${url} after ${seconds}s, so none of the ` +
          `${plan.items.length} tests ran: start \`kiln agent --queue ${url}\` on a machine with ` +
          "a checkout of this commit, or pass --fallback-local to run the tests here",
      );
    }
    this.ledger = new ResultLedger(jobs);
    this.phase = "running";
    this.watch.heard();
    if (DEBUG) debug(`queue: ${jobs.length} jobs for run ${runId}`);
    const spec = runSpecOf(this.options.agentArgs, settings.timeout, plan.items);
    this.specKey = runSpecKey(runId, spec);
    await queue.enqueue(runId, jobs, { spec, specKey: this.specKey });
    if (DEBUG) debug("queue: enqueued");
    this.watch.start();
  }

  // -- the queue's events -------------------------------------------------------

  private onProgress(jobId: string, progress: TestProgress): void {
    const ledger = this.ledger;
    if (this.phase !== "running" || ledger === undefined || !ledger.owns(jobId)) return;
    this.watch.heard();
    const report = readAgentReport(progress.report);
    if (typeof report === "string") {
      this.bound.ports.warn(
        `dropped a report for ${progress.nodeid} that is not what kiln agent sends: ${report}`,
      );
      return;
    }
    if (report.kind === "exit") {
      // A test called pytest.exit() (or the debugger's `q`): the session
      // ends as a local one does, with the test's own reason and status.
      this.bound.ports.toZygote({
        type: "run:exit",
        reason: report.reason,
        returncode: report.returncode,
        ...(report.interrupt === undefined ? {} : { interrupt: report.interrupt }),
      });
      this.finish();
      return;
    }
    if (ledger.accept(jobId, progress.attempt, progress.nodeid) !== "first") return;
    this.deliver(progress.nodeid, report);
    if (ledger.done) this.finish();
  }

  private onCompleted(jobId: string): void {
    const ledger = this.ledger;
    if (this.phase !== "running" || ledger === undefined || !ledger.owns(jobId)) return;
    // An agent reports each test before it completes the job (agent-run.ts).
    for (const nodeid of ledger.unreportedOf(jobId)) {
      ledger.accept(jobId, 0, nodeid);
      this.crash(nodeid, `the agent completed job ${jobId} without reporting this test`);
    }
    if (ledger.done) this.finish();
  }

  private onFailed(jobId: string, reason: string): void {
    const ledger = this.ledger;
    if (this.phase !== "running" || ledger === undefined || !ledger.owns(jobId)) return;
    if (reason.startsWith(REFUSAL_PREFIX)) {
      this.fail(reason);
      return;
    }
    // Which test killed the agents is known for sure only in a job of one
    // test: the report of the test before it may have died with the agent
    // before it reached Redis (found by queue-agent-faults.test.ts, where
    // the passing test before the killer was blamed). A longer job's
    // unreported tests are split into jobs of one test each, every one with
    // its own bound; the killer then ends its own job and fails alone.
    const unreported = ledger.unreportedOf(jobId);
    if (unreported.length > 1) {
      const singles = unreported.map((nodeid, k) => ({
        id: `${jobId}-t${k}`,
        indices: [],
        nodeids: [nodeid],
      }));
      for (const single of singles) ledger.add(single);
      this.queue
        ?.enqueue(this.options.runId, singles, { specKey: this.specKey })
        .catch((error: unknown) => this.fail(`could not requeue ${jobId}'s tests: ${error}`));
      return;
    }
    const { crashed } = ledger.exhausted(jobId);
    if (crashed !== undefined) {
      // How many attempts ran is the agents' BullMQ setting (bull.ts maxStalls).
      this.crash(
        crashed,
        `the kiln agent running this test died on every attempt of job ${jobId} (${reason}); ` +
          "like a test that crashes its worker in a local run, it fails",
      );
    }
    if (ledger.done) this.finish();
  }

  private onConnectionLost(message: string): void {
    if (this.phase === "collecting") {
      this.lostEarly = message;
      return;
    }
    if (this.phase !== "running") return;
    const missing = this.ledger?.unreported() ?? [];
    this.fail(
      `${message}; ${missing.length} tests were not reported (${listTests(missing)}), so this ` +
        "run is incomplete: check the Redis server and run again",
    );
  }

  // -- replaying into the zygote ------------------------------------------------

  private agentId(agent: string): number {
    let id = this.agentIds.get(agent);
    if (id === undefined) {
      id = this.agentIds.size + 1;
      this.agentIds.set(agent, id);
    }
    return id;
  }

  /** As run-machine.ts testFinished / failTest do for a local worker's test. */
  private deliver(nodeid: string, report: Exclude<AgentReport, { kind: "exit" }>): void {
    if (this.inOrder === undefined) {
      replayReport(this.bound.ports, this.summary, this.agentId(report.agent), nodeid, report);
    } else if (this.inOrder.add(nodeid, report)) {
      // The failure pytest stops at: its stop request follows the replay;
      // the tests after it are not waited for (their jobs are withdrawn).
      this.finish();
    }
  }

  private crash(nodeid: string, why: string): void {
    this.deliver(nodeid, { kind: "crashed", agent: "", when: "call", message: why, duration: 0 });
  }

  // -- the end --------------------------------------------------------------

  /** Ends the session with pytest's Exit: the reason printed, INTERNAL_ERROR its status. */
  private fail(message: string): void {
    if (this.phase === "finished" || this.phase === "local") return;
    const { ports } = this.bound;
    ports.warn(`error: ${message}`);
    ports.toZygote({ type: "run:exit", reason: message, returncode: ExitCode.INTERNAL_ERROR });
    this.finish();
  }

  private finish(): void {
    if (this.phase === "finished" || this.phase === "local") return;
    if (DEBUG) debug("queue: run finished");
    this.phase = "finished";
    const pending = this.ledger?.unreported() ?? [];
    const queue = this.queue;
    const withdrawn =
      pending.length > 0 && queue !== undefined
        ? queue.withdraw(this.ledger?.jobIdsWith(pending) ?? [])
        : Promise.resolve();
    this.bound.ports.toZygote({ type: "run:finish" });
    void withdrawn.finally(() => this.close());
  }

  // -- the run controller's other calls -----------------------------------------

  /** -x, --maxfail, a stop from pytest: nothing more is waited for. */
  stop(): void {
    if (this.local) {
      this.local.stop();
      return;
    }
    this.finish();
  }

  interrupt(): void {
    if (this.local) {
      this.local.interrupt();
      return;
    }
    this.finish();
  }

  /** The zygote is gone (or a second Ctrl-C): nothing to tell it, only to let go of Redis. */
  kill(): void {
    this.local?.kill();
    if (this.phase !== "local") this.phase = "finished";
    void this.close();
  }
}
