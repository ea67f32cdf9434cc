// `kiln agent`'s zygotes, one per set of run options. A long-lived agent
// serves runs whose pytest options differ (a run's spec, run-spec.ts, says
// them): it takes each job from the queue, reads its run's spec, and runs
// the job in the zygote started with that run's options, starting one if
// need be. A zygote keeps its collection warm for the next run with the same
// options; at most MAX_ZYGOTES live, the least recently used idle one is
// stopped for a new one (each holds the project's imports in memory). A new
// zygote starts warm all the same: its compiled code comes from the Redis
// store the others filled.
//
// Before a run's first job, the zygote's collection is compared with the
// coordinator's (run-spec.ts collectionMismatch): running "the same" test
// names from another commit is never silent. A refusal fails the job with
// REFUSAL_PREFIX, and the coordinator ends the run saying why.
import { QueueAgent } from "./agent-run.js";
import {
  type AgentJob,
  consumeJobs,
  type JobConsumer,
  type JobData,
  type QueueTimings,
  REFUSAL_PREFIX,
  type RunSpecReader,
  runSpecReader,
} from "./bull.js";
import { collectionMismatch, type RunSpec } from "./run-spec.js";

/** Zygotes an agent keeps: its warm one and one for another run's options. */
export const MAX_ZYGOTES = 2;

/** Runs whose spec and verdict a long-lived agent remembers (the oldest go first). */
const REMEMBERED_RUNS = 64;

/** One zygote's run (run-tests.ts runTests with the QueueAgent as engine). */
export interface LaunchedZygote {
  /** Its exit code, once the zygote ended. */
  ended: Promise<number>;
  /** Ends it as a first Ctrl-C would (its workers interrupted, the zygote told). */
  stop(): void;
  /** Ends it as a second Ctrl-C would (its workers and zygote killed). */
  kill(): void;
}

export interface ZygoteOptions {
  args: string[];
  timeout: number | null;
}

export interface PoolOptions {
  url: string;
  timings: QueueTimings;
  /** -n: jobs taken at once (and each zygote's workers). */
  workers: number;
  /** host:pid, in the coordinator's record. */
  name: string;
  /** Where the agent's zygotes run (its checkout's rootdir). */
  cwd: string;
  /** The options the agent was started with explicitly; a run with others is refused. */
  explicit: { args?: string[]; timeout?: number | null };
  /** The options of the zygote started at once. */
  initial: ZygoteOptions;
  launch(options: ZygoteOptions, engine: QueueAgent): LaunchedZygote;
  /** A zygote died under jobs: the agent must go (its jobs are re-taken elsewhere). */
  lost(why: string): void;
  log(line: string): void;
}

interface Zygote {
  key: string;
  options: ZygoteOptions;
  engine: QueueAgent;
  launched: LaunchedZygote;
  /** Its collection, or why it has none (the zygote ended first). */
  collected: Promise<string[] | { exitCode: number }>;
  active: number;
  lastUsed: number;
}

function keyOf(options: ZygoteOptions): string {
  return JSON.stringify([options.args, options.timeout]);
}

function describeArgs(args: readonly string[]): string {
  return args.length === 0 ? "no pytest arguments" : `pytest arguments ${JSON.stringify(args)}`;
}

function describeTimeout(timeout: number | null | undefined): string {
  return timeout === null || timeout === undefined ? "none" : `${timeout}`;
}

function refuse(why: string): Error {
  return new Error(`${REFUSAL_PREFIX}${why}`);
}

export class AgentPool {
  private readonly zygotes = new Map<string, Zygote>();
  private readonly specs = new Map<string, Promise<RunSpec | string>>();
  /** Per run and zygote: the collection check's verdict (undefined: the same). */
  private readonly checked = new Map<string, string | undefined>();
  private consumer: JobConsumer | undefined;
  private reader: RunSpecReader | undefined;
  private stopping = false;

  constructor(private readonly options: PoolOptions) {}

  /**
   * Starts the agent's own zygote and, once it collected, takes jobs.
   * Resolves with the zygote's exit code if it ended before collecting
   * (pytest's collection errors), undefined once jobs are being taken.
   */
  async start(): Promise<number | undefined> {
    const first = this.zygoteFor(this.options.initial);
    const collected = await first.collected;
    if (this.stopping) return undefined;
    if (!Array.isArray(collected) && this.options.explicit.args !== undefined) {
      return collected.exitCode;
    }
    const { url, timings, workers } = this.options;
    this.reader = runSpecReader(url);
    this.consumer = consumeJobs(url, timings, workers, (job) => this.take(job));
    await this.consumer.waitUntilReady();
    const what = Array.isArray(collected)
      ? `${collected.length} tests collected`
      : `its zygote could not collect with ${describeArgs(this.options.initial.args)} ` +
        `(exit ${collected.exitCode}); a run's own options get a zygote of their own`;
    this.options.log(
      `kiln agent: ready: ${what} in ${this.options.cwd}; taking jobs from ${url} with ` +
        `${workers} workers`,
    );
    return undefined;
  }

  /** Stops taking jobs and ends every zygote; resolves once they all ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.consumer?.close(true) ?? Promise.resolve();
    for (const zygote of this.zygotes.values()) zygote.launched.stop();
    await Promise.all([...this.zygotes.values()].map((zygote) => zygote.launched.ended));
    await closing;
    await this.reader?.close();
  }

  /** A second signal: every zygote killed. */
  kill(): void {
    for (const zygote of this.zygotes.values()) zygote.launched.kill();
  }

  private zygoteFor(options: ZygoteOptions): Zygote {
    const key = keyOf(options);
    const known = this.zygotes.get(key);
    if (known !== undefined) return known;
    this.makeRoom();
    const engine = new QueueAgent({ name: this.options.name, log: this.options.log });
    const launched = this.options.launch(options, engine);
    const zygote: Zygote = {
      key,
      options,
      engine,
      launched,
      collected: Promise.race([
        engine.collected,
        launched.ended.then((exitCode) => ({ exitCode })),
      ]),
      active: 0,
      lastUsed: Date.now(),
    };
    this.zygotes.set(key, zygote);
    // A zygote that ended (collection failed, or it died) is forgotten: the
    // next run with its options starts another. One that died under jobs
    // leaves them without an end: the agent goes as a killed one does, and
    // once their locks expire other agents take them (bull.ts).
    void launched.ended.then((exitCode) => {
      if (this.zygotes.get(key) !== zygote) return;
      this.zygotes.delete(key);
      if (!this.stopping && zygote.active > 0) {
        this.options.lost(
          `the zygote for ${describeArgs(options.args)} ended (exit ${exitCode}) while it ran ` +
            `${zygote.active} jobs`,
        );
      }
    });
    return zygote;
  }

  /** Stops the least recently used idle zygotes beyond MAX_ZYGOTES - 1. */
  private makeRoom(): void {
    const idle = [...this.zygotes.values()]
      .filter((zygote) => zygote.active === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.zygotes.size >= MAX_ZYGOTES && idle.length > 0) {
      const oldest = idle.shift() as Zygote;
      this.zygotes.delete(oldest.key);
      this.options.log(
        `kiln agent: stopping the zygote for ${describeArgs(oldest.options.args)} ` +
          `(at most ${MAX_ZYGOTES} are kept)`,
      );
      oldest.launched.stop();
    }
  }

  /** The job's run's spec, read once per spec key (runs are told apart by it). */
  private specOf(data: JobData): Promise<RunSpec | string> {
    const key = data.specKey ?? "";
    let spec = this.specs.get(key);
    if (spec === undefined) {
      const reader = this.reader;
      if (reader === undefined) throw new Error("this is a bug in kiln: a job before the reader");
      spec = reader.read(data);
      this.specs.set(key, spec);
      for (const old of this.specs.keys()) {
        if (this.specs.size <= REMEMBERED_RUNS) break;
        this.specs.delete(old);
        for (const verdict of this.checked.keys()) {
          if (verdict.startsWith(`${old}\n`)) this.checked.delete(verdict);
        }
      }
      // A failed read (Redis away) is tried again with the run's next job.
      spec.catch(() => this.specs.delete(key));
    }
    return spec;
  }

  /** Why this agent cannot take the run's options, or undefined. */
  private conflict(spec: RunSpec): string | undefined {
    const { explicit, name } = this.options;
    if (
      explicit.args !== undefined &&
      keyOf({ args: explicit.args, timeout: null }) !== keyOf({ args: spec.args, timeout: null })
    ) {
      return (
        `the run's ${describeArgs(spec.args)} differ from the ${describeArgs(explicit.args)} ` +
        `kiln agent ${name} was started with; start the agent without pytest arguments (it ` +
        "then takes each run's from the coordinator), or with the run's"
      );
    }
    if (explicit.timeout !== undefined && explicit.timeout !== spec.timeout) {
      return (
        `the run's --timeout is ${describeTimeout(spec.timeout)}, but kiln agent ${name} was ` +
        `started with --timeout ${describeTimeout(explicit.timeout)}; start the agent without ` +
        "--timeout (it then takes each run's), or with the run's"
      );
    }
    return undefined;
  }

  private async take(job: AgentJob): Promise<void> {
    this.options.log(`kiln agent: took ${job.id} ${job.attempt}`);
    const { runId } = job.data;
    const spec = await this.specOf(job.data);
    if (typeof spec === "string") throw refuse(spec);
    const conflict = this.conflict(spec);
    if (conflict !== undefined) throw refuse(conflict);
    const options = { args: spec.args, timeout: spec.timeout };
    let zygote = this.zygotes.get(keyOf(options));
    if (zygote === undefined) {
      this.options.log(
        `kiln agent: starting a zygote for run ${runId}: ${describeArgs(spec.args)}, ` +
          `--timeout ${describeTimeout(spec.timeout)}`,
      );
      zygote = this.zygoteFor(options);
    }
    zygote.active++;
    try {
      const collected = await zygote.collected;
      if (!Array.isArray(collected)) {
        throw refuse(
          `with the run's ${describeArgs(spec.args)}, kiln agent ${this.options.name}'s pytest ` +
            `ended before it collected (exit ${collected.exitCode}; its output says why)`,
        );
      }
      const verdictKey = `${job.data.specKey ?? ""}\n${zygote.key}`;
      if (!this.checked.has(verdictKey)) {
        this.checked.set(verdictKey, collectionMismatch(spec, collected));
      }
      const mismatch = this.checked.get(verdictKey);
      if (mismatch !== undefined) {
        throw refuse(
          `kiln agent ${this.options.name} in ${this.options.cwd}: ${mismatch}; check out the ` +
            "same commit on every agent as on the coordinator",
        );
      }
      await zygote.engine.take(job);
    } finally {
      zygote.active--;
      zygote.lastUsed = Date.now();
    }
  }
}
