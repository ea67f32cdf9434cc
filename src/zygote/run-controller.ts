// The run machine's real ports: Node's clock and timers, process.kill, the
// zygote's pipe and the workers' sockets, the stack files in the scratch
// directory. It also routes the zygote's messages: most become machine
// events or run events; run:ready first reads the recorded durations.
import { join } from "node:path";
import type { RunEventSink } from "../events/run-events.js";
import type { ZygoteToSupervisor } from "../protocol/messages.js";
import type { DistMode } from "../scheduler/grouping.js";
import { type ShardSpec, splitShards } from "../scheduler/shard.js";
import { DEBUG, debug, traceReceived } from "./debug-trace.js";
import { RunMachine } from "./run-machine.js";
import type { RunEngine, RunEngineFactory, RunSummary, Timer } from "./run-ports.js";
import { readStackFile } from "./scratch-files.js";
import { tryKill } from "./try-kill.js";
import type { WorkerChannel, WorkerConnectionHandlers } from "./worker-server.js";
import type { ZygoteHandle } from "./zygote-process.js";

export interface RunOptions {
  workers: number;
  workersAuto: boolean;
  dist: DistMode;
  /** Per-test timeout in seconds, or null. */
  timeout: number | null;
  scratchDir: string;
  /** Recorded durations for the project, read once its rootdir is known. */
  loadDurations(rootdir: string): Promise<ReadonlyMap<string, number>>;
  events: RunEventSink;
  /** --shard I/N: answers the zygote's shard:items. */
  shard?: ShardSpec;
  /** What runs the tests instead of the local run machine (`--queue`, `kiln agent`). */
  engine?: RunEngineFactory;
}

function realTimer(ms: number, fire: () => void): Timer {
  const handle = setTimeout(fire, ms);
  // The zygote's process keeps the loop alive while the run lasts.
  handle.unref();
  return { cancel: () => clearTimeout(handle) };
}

export class RunController {
  /** pytest's rootdir, known once collection finished. */
  rootdir: string | undefined;
  private readonly machine: RunEngine;
  private readonly channels = new Map<number, WorkerChannel>();
  /** run:ready's node ids, for KILN_DEBUG's trace of what each worker is given. */
  private items: string[] = [];
  /** The recorded durations, being read since collection finished. */
  private durations: Promise<ReadonlyMap<string, number>> | undefined;

  constructor(
    private readonly zygote: ZygoteHandle,
    private readonly options: RunOptions,
  ) {
    const settings = {
      workers: options.workers,
      workersAuto: options.workersAuto,
      dist: options.dist,
      timeout: options.timeout,
    };
    const makeEngine: RunEngineFactory =
      options.engine ?? ((runSettings, ports) => new RunMachine(runSettings, ports));
    this.machine = makeEngine(
      settings,
      {
        now: () => Date.now(),
        setTimer: realTimer,
        kill: tryKill,
        toZygote: (message, body) => {
          // A worker's first group travels with its spawn (RunMachine.spawnWorker).
          if (DEBUG && message.type === "worker:spawn" && message.indices !== undefined) {
            this.traceWork(message.workerId, message.indices);
          }
          zygote.send(message, body);
        },
        toWorker: (workerId, message) => {
          if (DEBUG && message.type === "work") this.traceWork(workerId, message.indices);
          this.channels.get(workerId)?.send(message);
        },
        readStack: (workerId) =>
          readStackFile(join(options.scratchDir, `worker-${workerId}.stack`)),
        warn: (line) => process.stderr.write(`kiln: ${line}\n`),
        events: options.events,
      },
      { scratchDir: options.scratchDir },
    );
  }

  private readDurations(rootdir: string): Promise<ReadonlyMap<string, number>> {
    return this.options.loadDurations(rootdir).catch(() => new Map<string, number>());
  }

  private traceWork(workerId: number, indices: readonly number[]): void {
    const names = indices.map((index) => this.items[index]);
    debug(`kw${workerId} <- work ${names.join(" ")}`);
  }

  get result(): RunSummary {
    return this.machine.result;
  }

  interruptWorkers(): void {
    this.machine.interrupt();
  }

  killWorkers(): void {
    this.machine.kill();
  }

  /** --shard: this shard's part of the split, over every shard's same collection. */
  private async answerShard(zygote: ZygoteHandle, rootdir: string, nodeids: string[]) {
    const shard = this.options.shard;
    if (shard === undefined) {
      throw new Error("this is a bug in kiln: the zygote sent shard:items without --shard");
    }
    const durations = await this.readDurations(rootdir);
    const plan = splitShards(nodeids, durations, shard.count);
    const indices = plan.shards[shard.index - 1] ?? [];
    const total = plan.expected.reduce((sum, seconds) => sum + seconds, 0);
    const recorded = nodeids.filter((nodeid) => durations.has(nodeid)).length;
    const note =
      `kiln: shard ${shard.index}/${shard.count}: ${indices.length} of ${nodeids.length} tests, ` +
      `expected ${(plan.expected[shard.index - 1] ?? 0).toFixed(2)}s of ${total.toFixed(2)}s ` +
      `(${recorded} of ${nodeids.length} durations recorded)`;
    zygote.send({ type: "shard:keep", indices, note });
  }

  onZygoteMessage(message: ZygoteToSupervisor): void {
    const at = Date.now();
    switch (message.type) {
      case "shard:items":
        void this.answerShard(this.zygote, message.rootdir, message.nodeids);
        break;
      case "collection:finished":
        this.rootdir = message.rootdir;
        // Read while the zygote prepares the worker plugins and sends run:ready.
        this.durations = this.readDurations(message.rootdir);
        this.options.events.emit({
          event: "collection:finished",
          at,
          rootdir: message.rootdir,
          items: message.items,
          errors: message.errors,
          skipped: message.skipped ?? [],
          deselected: message.deselected ?? 0,
        });
        break;
      case "run:ready":
        this.items = message.items;
        void (this.durations ?? this.readDurations(this.rootdir ?? "")).then((durations) =>
          this.machine.start({
            items: message.items,
            durations,
            ...(message.serial === undefined ? {} : { serial: message.serial }),
            ...(message.order === undefined ? {} : { order: message.order }),
            pluginOwnsTimeout: message.timeoutOwner === "pytest-timeout",
          }),
        );
        break;
      case "worker:spawned":
        this.machine.workerSpawned(message.workerId, message.pid);
        break;
      case "worker:exited":
        this.machine.workerExited({
          workerId: message.workerId,
          pid: message.pid,
          exitCode: message.exitCode,
          signal: message.signal,
        });
        break;
      case "run:stop-requested":
        this.options.events.emit({ event: "run:stop-requested", at, reason: message.reason });
        this.machine.stop();
        break;
      case "registry:stats":
        this.options.events.emit({
          event: "registry:served",
          at,
          served: message.served,
          fallbacks: message.fallbacks,
          errors: message.errors,
        });
        this.options.events.emit({
          event: "modules:loaded",
          at,
          loads: (message.loads ?? []).map(([module, path, source]) => ({
            module,
            path,
            source: source === "registry" || source === "level1" ? source : "fallback",
          })),
        });
        break;
      case "imports:recorded":
        this.options.events.emit({
          event: "imports:recorded",
          at,
          workerId: null,
          files: message.files,
          session: message.session,
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
          at,
          prepared: message.prepared,
          rootdir: message.rootdir,
        });
        break;
      case "modules:imported":
        this.options.events.emit({
          event: "modules:imported",
          at,
          modules: message.modules.map(([module, path]) => ({ module, path })),
        });
        break;
      case "session:finished":
        this.options.events.emit({
          event: "session:finished",
          at,
          exitCode: message.exitCode,
          seconds: message.seconds,
        });
        break;
      case "hello":
      case "hello:refused":
        break;
    }
  }

  onWorkerConnected(
    workerId: number,
    pid: number | null,
    channel: WorkerChannel,
  ): ReturnType<WorkerConnectionHandlers["connected"]> {
    this.channels.set(workerId, channel);
    this.machine.workerConnected(workerId, pid);
    return {
      message: (message, body) => {
        if (DEBUG) traceReceived(`kw${workerId}`, message);
        this.machine.workerMessage(workerId, message, body);
      },
      corrupted: (error) => this.machine.workerCorrupted(workerId, error.message),
      closed: () => {
        this.channels.delete(workerId);
        this.machine.workerClosed(workerId);
      },
    };
  }
}
