// `kiln agent --queue redis://…`: one zygote's run engine. The zygote
// imports and collects the project once, with one run's pytest options
// (agent-pool.ts keeps a zygote per set of options); then the run stays open
// (RunMachine's open-ended mode): each job the pool hands it is one group of
// that collection, given to the zygote's forked workers, and each test's
// report goes back to the coordinator as the job's progress (wire.ts)
// instead of into this zygote's hooks. A worker that dies is handled by the
// run machine as locally (the test reported crashed, the rest of the group
// in a fresh worker), so a segfault or a --timeout kill reads the same as in
// a local run.
import { closeSync, constants, fstatSync, openSync, readFileSync, unlinkSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { ReportMeta } from "../protocol/messages.js";
import { RunMachine } from "../zygote/run-machine.js";
import type { RunEngine, RunEngineFactory, RunPlan, RunPorts } from "../zygote/run-ports.js";
import type { AgentJob } from "./bull.js";
import type { AgentReport, RecordedWarning } from "./wire.js";

export interface AgentOptions {
  /** host:pid, in the coordinator's record. */
  name: string;
  /** The agent's own lines. */
  log(line: string): void;
}

interface ActiveJob {
  job: AgentJob;
  remaining: Set<string>;
  /** The job's reports, sent in order; the job completes after the last. */
  sent: Promise<void>;
  done(): void;
}

const SPILL_NAME = /^body-\d+-\d+\.bin$/;

/**
 * A worker's spilled report body (report_sender.py _spill), read and removed,
 * with the zygote's rules (replay.py read_spilled_body): only a regular file
 * directly in the run's scratch dir, named as a worker names it.
 */
function readSpilledBody(path: string, scratchDir: string): Buffer {
  if (dirname(resolve(path)) !== resolve(scratchDir) || !SPILL_NAME.test(basename(path))) {
    throw new Error(`refused a report body file outside the run's scratch dir: ${path}`);
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`report body ${path} is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
}

export class QueueAgent implements RunEngine {
  private machine: RunMachine | undefined;
  private scratchDir = "";
  private index = new Map<string, number>();
  /** The node ids this zygote collected, once it did (run:ready). */
  readonly collected: Promise<string[]>;
  private markCollected: (items: string[]) => void = () => undefined;
  /** Per node id, the jobs running it (normally one). */
  private readonly active = new Map<string, ActiveJob[]>();
  /** The last job a report went to: a worker's pytest.exit() is said there. */
  private lastJob: ActiveJob | undefined;
  /** The reports' metadata, from the run event that precedes each replay. */
  private readonly metas = new Map<string, ReportMeta[]>();
  private stopping = false;
  /** Warnings the workers recorded per test, sent with its report (wire.ts). */
  private readonly warnings = new Map<string, RecordedWarning[]>();
  /** -n: the worker count, which is also how many jobs the agent runs at once. */
  private workers = 1;

  constructor(private readonly options: AgentOptions) {
    this.collected = new Promise((done) => {
      this.markCollected = done;
    });
  }

  readonly engine: RunEngineFactory = (settings, ports, run) => {
    this.scratchDir = run.scratchDir;
    this.workers = settings.workers;
    this.machine = new RunMachine(
      { ...settings, workersAuto: false, openEnded: true },
      this.wrapPorts(ports),
    );
    return this;
  };

  private get run(): RunMachine {
    if (this.machine === undefined) throw new Error("this is a bug in kiln: agent not bound");
    return this.machine;
  }

  /** The machine's ports, with the tests' reports going to the queue instead of the zygote. */
  private wrapPorts(ports: RunPorts): RunPorts {
    return {
      ...ports,
      events: {
        emit: (event) => {
          if (event.event === "test:finished") this.metas.set(event.nodeid, event.reports);
          ports.events.emit(event);
        },
      },
      toZygote: (message, body) => {
        const agent = this.options.name;
        switch (message.type) {
          case "test:finished": {
            const reports = this.metas.get(message.nodeid) ?? [];
            this.metas.delete(message.nodeid);
            let bytes: Buffer = Buffer.from(body ?? new Uint8Array());
            if (message.bodyFile !== undefined) {
              try {
                bytes = readSpilledBody(message.bodyFile, this.scratchDir);
              } catch (error) {
                this.report(message.nodeid, {
                  kind: "crashed",
                  agent,
                  when: "call",
                  message: `kiln agent ${agent} could not read this test's report: ${String(error)}`,
                  duration: 0,
                });
                return;
              }
            }
            this.report(message.nodeid, {
              kind: "finished",
              agent,
              location: message.location,
              reports,
              format: message.format,
              ...(message.unfinished === undefined ? {} : { unfinished: message.unfinished }),
              body: bytes.toString("base64"),
            });
            return;
          }
          case "test:crashed":
            this.report(message.nodeid, {
              kind: "crashed",
              agent,
              when: message.when,
              message: message.message,
              duration: message.duration,
            });
            return;
          case "run:exit": {
            const last = this.lastJob;
            const exit: AgentReport = {
              kind: "exit",
              agent,
              reason: message.reason,
              returncode: message.returncode,
              ...(message.interrupt === undefined ? {} : { interrupt: message.interrupt }),
            };
            if (last)
              last.sent = last.sent.then(() => last.job.report({ nodeid: "", report: exit }));
            return;
          }
          case "warning:recorded": {
            const { warning: recorded, when, nodeid, location } = message;
            const warning = { warning: recorded, when, nodeid, location };
            const list = this.warnings.get(message.nodeid) ?? [];
            list.push(warning);
            this.warnings.set(message.nodeid, list);
            return;
          }
          default:
            ports.toZygote(message, body);
        }
      },
    };
  }

  /** One test's report, to the job running it, in order; the job completes after its last. */
  private report(nodeid: string, bare: AgentReport): void {
    const warnings = this.warnings.get(nodeid);
    this.warnings.delete(nodeid);
    const report = warnings && bare.kind !== "exit" ? { ...bare, warnings } : bare;
    const jobs = this.active.get(nodeid);
    const entry = jobs?.shift();
    if (jobs !== undefined && jobs.length === 0) this.active.delete(nodeid);
    // A late teardown re-report after a stop (run-machine.ts lateTeardown).
    if (entry === undefined || !entry.remaining.delete(nodeid)) return;
    // Stopping: the queue's connection is closing. The job stays unfinished
    // and is re-taken once its lock expires; what this attempt reported
    // already is not reported twice (the coordinator's ledger).
    if (this.stopping) return;
    this.lastJob = entry;
    // Sent at once (bull.ts batches and keeps the order); the job completes
    // once every report of it is written.
    const sent = entry.job
      .report({ nodeid, report })
      .catch((error: unknown) =>
        this.options.log(`kiln agent: could not report ${nodeid}: ${String(error)}`),
      );
    entry.sent = Promise.all([entry.sent, sent]).then(() => undefined);
    if (entry.remaining.size === 0) void entry.sent.then(entry.done);
  }

  start(plan: RunPlan): void {
    for (const [position, nodeid] of plan.items.entries()) this.index.set(nodeid, position);
    this.run.start(plan);
    this.markCollected(plan.items);
  }

  /**
   * Runs one job, whose tests the pool checked are in this collection
   * (agent-pool.ts); resolves once every report of it is sent.
   */
  take(job: AgentJob): Promise<void> {
    return new Promise<void>((done) => {
      const entry: ActiveJob = {
        job,
        remaining: new Set(job.data.nodeids),
        sent: Promise.resolve(),
        done,
      };
      for (const nodeid of job.data.nodeids) {
        const jobs = this.active.get(nodeid) ?? [];
        jobs.push(entry);
        this.active.set(nodeid, jobs);
      }
      if (entry.remaining.size === 0) return done();
      const items = job.data.nodeids.map((nodeid) => {
        const index = this.index.get(nodeid);
        if (index === undefined) {
          throw new Error(
            `this is a bug in kiln: job ${job.id}'s ${nodeid} was not collected here`,
          );
        }
        return { nodeid, index };
      });
      // false: this agent is stopping. The job stays unfinished; once its
      // lock expires another agent takes it.
      this.run.feed(items);
    });
  }

  /** Reports no more: the jobs being run are left to expire and be re-taken. */
  private stopTaking(): void {
    this.stopping = true;
  }

  get result() {
    return this.run.result;
  }

  stop(): void {
    this.run.stop();
  }

  interrupt(): void {
    this.stopTaking();
    this.run.interrupt();
  }

  kill(): void {
    this.stopTaking();
    this.run.kill();
  }

  workerSpawned(workerId: number, pid: number): void {
    this.run.workerSpawned(workerId, pid);
  }

  workerExited(death: Parameters<RunEngine["workerExited"]>[0]): void {
    this.run.workerExited(death);
  }

  workerConnected(workerId: number, pid: number | null): void {
    this.run.workerConnected(workerId, pid);
  }

  workerCorrupted(workerId: number, problem: string): void {
    this.run.workerCorrupted(workerId, problem);
  }

  workerClosed(workerId: number): void {
    this.run.workerClosed(workerId);
  }

  workerMessage(...args: Parameters<RunEngine["workerMessage"]>): void {
    this.run.workerMessage(...args);
  }
}
