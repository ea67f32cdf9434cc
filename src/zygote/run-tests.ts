// One `kiln test` run end to end: socket server, zygote, controller, signals,
// and the exit code, which is always pytest's own (the zygote's exit status).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { HARNESS_DIR } from "../config/harness.js";
import { pytestRootdir } from "../config/rootdir.js";
import { type DaemonLookup, forkFromDaemon } from "../daemon/daemon-zygote.js";
import { countsLine } from "../events/outcomes.js";
import type { RunEventSink } from "../events/run-events.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { HelloToZygote } from "../protocol/messages.js";
import type { PreparedRegistry } from "../registry/prepare.js";
import { type RegistryOptions, RegistrySession } from "../registry/registry-session.js";
import type { IsolationLimits, IsolationProfile } from "../sandbox/profiles.js";
import type { DistMode } from "../scheduler/grouping.js";
import type { ShardSpec } from "../scheduler/shard.js";
import { RunController } from "./run-controller.js";
import type { RunEngineFactory } from "./run-ports.js";
import { createScratchDir } from "./scratch-dir.js";
import { tryKill } from "./try-kill.js";
import { WorkerServer } from "./worker-server.js";
import {
  spawnZygote,
  type TestOutput,
  type ZygoteLink,
  ZygoteStartError,
} from "./zygote-process.js";
import { discardZygote, type StartedZygote } from "./zygote-start.js";

export type { TestOutput } from "./zygote-process.js";

export interface TestRunRequest {
  python: string;
  interpreterNote: string;
  cwd: string;
  pytestArgs: string[];
  workers: number;
  /** `-n auto`: `workers` is the ceiling; the run chooses after collection. */
  workersAuto: boolean;
  dist: DistMode;
  timeout: number | null;
  env: NodeJS.ProcessEnv;
  loadDurations(rootdir: string): Promise<ReadonlyMap<string, number>>;
  saveDurations(rootdir: string, durations: Map<string, number>): Promise<void>;
  events: RunEventSink;
  /** null: --no-registry. */
  registry: RegistryOptions | null;
  /** --changed / --affected-by: the test files to run (daemon/affected-run.ts). */
  select?: HelloToZygote["select"];
  /** --shard I/N: run only this shard's part of the split (scheduler/shard.ts). */
  shard?: ShardSpec;
  /** The workers' sandbox (DESIGN.md section 4); absent: none. */
  isolation?: { profile: IsolationProfile; limits: IsolationLimits };
  /** The zygote's interpreter if it was started already (cli/early-zygote.ts). */
  zygote?: StartedZygote;
  /** pytest's output goes here instead of Kiln's terminal (`kiln watch`). */
  output?: TestOutput;
  /** The project's daemon (daemon/find-daemon.ts); absent with --no-daemon. */
  daemon?: DaemonLookup;
  /** What runs the tests instead of local workers (`--queue`, `kiln agent`). */
  engine?: RunEngineFactory;
  /** The header's line for the engine's workers, in place of "N workers forked". */
  workersNote?: string;
  /**
   * Whose stdin, stdout and stderr the daemon's fork takes (default: this
   * process's). `kiln watch`'s stand-in (daemon/stdio-stand-in.ts), whose
   * output pipes come back to the watch.
   */
  daemonStdioPid?: number;
  /** Told whether the daemon forked this run's zygote (`kiln watch` keeps a spare zygote if not). */
  daemonUsed?: (used: boolean) => void;
  /**
   * Hands SIGINT/SIGTERM to the run, including any that arrived before it
   * started (cli/signals.ts); returns the function that gives them back.
   */
  takeSignals(listener: (signal: NodeJS.Signals) => void): () => void;
}

export async function runTests(request: TestRunRequest): Promise<number> {
  const scratch = createScratchDir();
  let controller: RunController | undefined;
  const server = new WorkerServer(join(scratch, "workers.sock"), {
    connected: (workerId, pid, channel) => {
      if (controller === undefined) throw new Error("this is a bug in kiln: no run yet");
      return controller.onWorkerConnected(workerId, pid, channel);
    },
    protocolError: (error) =>
      process.stderr.write(`kiln: worker protocol error: ${error.message}\n`),
  });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      request.events.emit({ event: "run:stop-requested", at: Date.now(), reason: signal });
      // Before the zygote's pid is known there is nothing to signal yet: the
      // interrupt is remembered and acted on at the next step (stopIfInterrupted).
      controller?.interruptWorkers();
      if (zygotePid !== undefined) tryKill(zygotePid, "SIGINT");
    } else {
      controller?.killWorkers();
      if (zygotePid !== undefined) tryKill(-zygotePid, "SIGKILL");
      process.exit(ExitCode.INTERRUPTED);
    }
  };
  let zygotePid: number | undefined;
  // Signals from before the run started are handed over here.
  const releaseSignals = request.takeSignals(onSignal);
  // Assigned in beginRegistry (a closure): typed so that TypeScript does not narrow it to null.
  let registry = null as RegistrySession | null;
  try {
    await server.listen();
    // Walk and stat the project while the zygote starts and imports pytest
    // (or while the daemon forks one). The registry's scope is pytest's
    // rootdir, wherever kiln runs from; its rules depend on the pytest
    // version, known once the zygote said hello.
    const rootdirOf = (pytestVersion?: string) =>
      pytestRootdir({
        cwd: request.cwd,
        args: request.pytestArgs,
        env: request.env,
        pytestVersion,
      });
    let guessedRoot = null as string | null;
    let begun = false;
    const beginRegistry = () => {
      if (begun) return;
      begun = true;
      guessedRoot = request.registry ? rootdirOf() : null;
      registry =
        request.registry && guessedRoot !== null
          ? RegistrySession.begin(guessedRoot, request.registry)
          : null;
    };
    // The hello's fields that are not this run's own (its sockets, scratch
    // directory, where its zygote came from): with the registry's on/off,
    // what a held collection is keyed by (daemon-zygote.ts `hold`).
    const helloInputs = {
      ...(request.workersNote === undefined ? {} : { workersNote: request.workersNote }),
      args: request.pytestArgs,
      workers: request.workers,
      workersAuto: request.workersAuto,
      dist: request.dist,
      timeout: request.timeout,
      interpreterNote: request.interpreterNote,
      ...(request.select === undefined ? {} : { select: request.select }),
      ...(request.shard === undefined ? {} : { shard: request.shard }),
      ...(request.isolation === undefined || request.isolation.profile === "none"
        ? {}
        : {
            isolation: {
              ...request.isolation,
              // Kept visible under the private /tmp and readable under strict.
              projectPaths: [
                ...new Set([
                  request.cwd,
                  pytestRootdir({ cwd: request.cwd, args: request.pytestArgs, env: request.env }),
                ]),
              ],
            },
          }),
    };
    const warm = await daemonZygote(request, scratch, beginRegistry, {
      ...helloInputs,
      registry: request.registry !== null,
    });
    if (warm !== undefined && request.zygote !== undefined) discardZygote(request.zygote);
    const spawnedAt = warm ? Date.now() : (request.zygote?.startedAt ?? Date.now());
    const spawning = spawnZygote({
      python: request.python,
      cwd: request.cwd,
      env: request.env,
      ...(warm ? { link: warm.link } : request.zygote ? { started: request.zygote } : {}),
      ...(request.output === undefined ? {} : { output: request.output }),
      hello: {
        ...(warm ? { zygoteNote: warm.note } : {}),
        ...helloInputs,
        socketPath: server.socketPath,
        scratchDir: scratch,
      },
    });
    beginRegistry();
    const zygote = await spawning;
    zygotePid = zygote.pid;
    // An interrupt before the zygote runs pytest: pytest itself would stop
    // with "!!! KeyboardInterrupt !!!", nothing run, status 2. The zygote is
    // still in its handshake, waiting for the registry: end it rather than
    // start a run nobody wants.
    const recordZygoteExit = (exit: { code: number | null; signal: NodeJS.Signals | null }) =>
      request.events.emit({
        event: "zygote:exited",
        at: Date.now(),
        pid: zygotePid ?? -1,
        exitCode: exit.code,
        signal: exit.signal,
      });
    const stopIfInterrupted = async (): Promise<number | null> => {
      if (interrupts === 0) return null;
      if (zygotePid !== undefined) tryKill(-zygotePid, "SIGKILL");
      recordZygoteExit(await zygote.exited);
      request.events.emit({
        event: "run:finished",
        at: Date.now(),
        exitCode: ExitCode.INTERRUPTED,
      });
      process.stdout.write(
        `${"!".repeat(31)} KeyboardInterrupt ${"!".repeat(31)}\n` +
          "kiln: interrupted before the tests started; no tests ran\n",
      );
      return ExitCode.INTERRUPTED;
    };
    const early = await stopIfInterrupted();
    if (early !== null) return early;
    let registryRoot = guessedRoot;
    if (request.registry && registry) {
      registryRoot = rootdirOf(zygote.pytestVersion);
      if (registryRoot !== guessedRoot) {
        registry.discard();
        registry = RegistrySession.begin(registryRoot, request.registry);
      }
    }
    const prepared = registry
      ? await registry.prepare(
          {
            magic: zygote.magic,
            cacheTag: zygote.cacheTag,
            pytestVersion: zygote.pytestVersion,
            optimize: zygote.optimize,
          },
          request.python,
          HARNESS_DIR,
          scratch,
          (line) => process.stderr.write(`kiln: warning: ${line}\n`),
        )
      : null;
    if (prepared) {
      request.events.emit({
        event: "registry:prepared",
        at: Date.now(),
        lookups: prepared.records.map((r) => ({
          module: r.module,
          path: r.path,
          outcome: r.outcome,
          ...(r.detail === undefined ? {} : { detail: r.detail }),
        })),
        ms: prepared.ms,
      });
    }
    const beforeRun = await stopIfInterrupted();
    if (beforeRun !== null) return beforeRun;
    zygote.send({
      type: "registry:ready",
      packPath: prepared?.packPath ?? null,
      note: prepared ? describePrepared(prepared) : "",
      rootdir: prepared ? registryRoot : null,
    });
    // The pid is known only once the handshake is done; the span starts at spawn.
    request.events.emit({ event: "zygote:spawned", at: spawnedAt, pid: zygotePid ?? -1 });
    request.events.emit({
      event: "zygote:ready",
      at: Date.now(),
      pid: zygote.pid ?? -1,
      python: zygote.python,
      pytest: zygote.pytestVersion,
    });
    const run = new RunController(zygote, {
      workers: request.workers,
      workersAuto: request.workersAuto,
      dist: request.dist,
      timeout: request.timeout,
      scratchDir: scratch,
      loadDurations: request.loadDurations,
      events: request.events,
      ...(request.shard === undefined ? {} : { shard: request.shard }),
      ...(request.engine === undefined ? {} : { engine: request.engine }),
    });
    controller = run;
    zygote.onMessage((message) => run.onZygoteMessage(message));
    const exit = await zygote.exited;
    recordZygoteExit(exit);
    run.killWorkers();
    request.events.emit({
      event: "run:finished",
      at: Date.now(),
      exitCode: interruptedExit(exit.code, interrupts) ?? exit.code ?? ExitCode.INTERNAL_ERROR,
    });
    // A shard leaves .kiln/durations.json alone: the other shards (on this
    // machine too, run one after another) must split from the same file,
    // or they disagree and a test runs twice or never. Its durations are in
    // its run record; `kiln report --merge` folds all shards' into the file.
    if (request.shard === undefined && run.rootdir !== undefined && run.result.durations.size > 0) {
      await request.saveDurations(run.rootdir, run.result.durations);
    }
    if (exit.signal !== null) {
      if (interrupts > 0) return ExitCode.INTERRUPTED;
      if (run.result.running) {
        // pytest's terminal reporter lived in the zygote: nothing printed the
        // summary, so say what finished from the workers' reports.
        process.stderr.write(
          `\nkiln: the zygote (pid ${zygotePid ?? "?"}, ${request.python}) was killed by ` +
            `${exit.signal} while the tests were running; a test may have killed it (in a ` +
            "worker, os.getppid() is the zygote). Tests that finished before that: " +
            `${countsLine(run.result.outcomes.total)}. Each result is in the run record.\n`,
        );
        return ExitCode.INTERNAL_ERROR;
      }
      process.stderr.write(
        `kiln: the zygote (${request.python}) was killed by ${exit.signal} before the tests ` +
          "started; this is either a crash inside pytest/a plugin during collection or a bug in kiln.\n",
      );
      return ExitCode.INTERNAL_ERROR;
    }
    const stopped = interruptedExit(exit.code, interrupts);
    if (stopped !== null && exit.code !== ExitCode.INTERRUPTED) {
      // The signal reached the zygote after pytest had finished with the
      // items it could run (the stop emptied the queue first): pytest ended
      // "normally", but the user stopped the run, and pytest says so with 2.
      process.stdout.write("kiln: KeyboardInterrupt: the run was stopped by a signal\n");
    }
    return stopped ?? exit.code ?? ExitCode.INTERNAL_ERROR;
  } catch (error) {
    if (error instanceof ZygoteStartError) {
      process.stderr.write(`kiln: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  } finally {
    // A store opened early for a run that stopped before preparing it.
    registry?.discard();
    releaseSignals();
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The zygote the project's daemon forks for this run, or undefined for a cold
 * start, saying why on stderr when a daemon was there: the daemon never fails
 * a run.
 */
async function daemonZygote(
  request: TestRunRequest,
  scratchDir: string,
  meanwhile: () => void,
  hold: Record<string, unknown>,
): Promise<{ link: ZygoteLink; note: string } | undefined> {
  const lookup = request.daemon;
  if (lookup === undefined) return undefined;
  const why = (reason: string) => {
    const line = `kiln: daemon not used: ${reason}; starting a cold zygote\n`;
    if (request.output) request.output.stderr(Buffer.from(line));
    else process.stderr.write(line);
  };
  if (!lookup.found) {
    if (lookup.note !== undefined) why(lookup.note);
    return undefined;
  }
  const forked = await forkFromDaemon({
    info: lookup.info,
    rootdir: lookup.rootdir,
    python: request.python,
    cwd: request.cwd,
    env: request.env,
    scratchDir,
    meanwhile,
    hold,
    ...(request.daemonStdioPid === undefined ? {} : { stdioPid: request.daemonStdioPid }),
  });
  request.daemonUsed?.(forked.ok);
  if (forked.ok) return forked.zygote;
  why(forked.reason);
  return undefined;
}

/**
 * The status of a run the user stopped: pytest's INTERRUPTED, unless the
 * zygote already ended with a status that says more (an internal error, a
 * usage error). null when no signal came.
 */
function interruptedExit(code: number | null, interrupts: number): number | null {
  if (interrupts === 0) return null;
  if (code === ExitCode.INTERNAL_ERROR || code === ExitCode.USAGE_ERROR) return code;
  return ExitCode.INTERRUPTED;
}

function describePrepared(p: PreparedRegistry): string {
  const total = p.hits + p.misses + p.errors;
  const errors = p.errors > 0 ? `, ${p.errors} with syntax errors left to the import system` : "";
  const ms = Math.round(p.ms.hash + p.ms.lookup + p.ms.compile + p.ms.pack);
  return `registry: ${total} modules (${p.hits} cached, ${p.misses} compiled${errors}) in ${ms} ms`;
}
