// `kiln agent --queue redis://HOST:PORT [-n N] [--project DIR]`: one
// machine's share of `kiln test --queue` runs. It starts a zygote for the
// project (imports and collects once), then takes jobs from the queue until
// it is stopped (SIGINT/SIGTERM: the jobs it was running are re-taken by
// another agent once their lock expires). Each run's pytest options come
// from its coordinator (queue/run-spec.ts); the agent keeps a zygote per set
// of options (queue/agent-pool.ts). pytest arguments or --timeout given here
// pin the agent to runs with those. Its compiled-code store is the queue's
// Redis unless --store says otherwise, so a new agent (or a new zygote for
// another run's options) starts warm from what others compiled.
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { pytestRootdir } from "../config/rootdir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { parseQueueUrl, probe, QueueUrlError, queueTimings } from "../queue/bull.js";
import { runTests } from "../zygote/run-tests.js";
import { chooseInterpreter } from "./interpreter-choice.js";
import { takeSignals } from "./signals.js";
import { parseTestOptions, type RawTestOptions, UsageError } from "./test-options.js";

interface AgentFlags extends RawTestOptions {
  queue?: string;
  project?: string;
}

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description(
      "Run the tests of `kiln test --queue` runs: take jobs from the queue's Redis and run " +
        "them in this project's warm zygote until stopped (Ctrl-C or SIGTERM).",
    )
    .argument(
      "[pytest-args...]",
      "pytest arguments: take only runs with these (default: each run's, from its coordinator)",
    )
    .requiredOption("--queue <url>", "the queue's Redis, redis://HOST:PORT[/DB]")
    .option("-n, --numprocesses <n>", 'workers (and jobs run at once), or "auto"', "auto")
    .option("--project <dir>", "the project's checkout (default: the current directory)")
    .option(
      "--timeout <seconds>",
      "take only runs with this per-test timeout (default: each run's, from its coordinator)",
    )
    .option("--python <path>", "the interpreter to run pytest with")
    .option("--no-registry", "import project modules normally (no compiled-code registry)")
    .option("--store <url>", "where compiled modules live (default: the queue's Redis)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (pytestArgs: string[], flags: AgentFlags) => {
      process.exitCode = await agentAction(pytestArgs, flags);
    });
}

async function agentAction(pytestArgs: string[], flags: AgentFlags): Promise<number> {
  let url: string;
  let options: ReturnType<typeof parseTestOptions>;
  try {
    url = parseQueueUrl(flags.queue ?? "");
    options = parseTestOptions({ ...flags, store: flags.store ?? url });
  } catch (error) {
    if (error instanceof UsageError || error instanceof QueueUrlError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  const cwd = resolve(flags.project ?? process.cwd());
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    process.stderr.write(`kiln: error: --project ${cwd} is not a directory\n`);
    return ExitCode.USAGE_ERROR;
  }
  const interpreter = chooseInterpreter(options.python, cwd);
  if (!interpreter.ok) {
    process.stderr.write(`kiln: error: ${interpreter.message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  try {
    await probe(url);
  } catch (error) {
    process.stderr.write(`kiln: error: ${error instanceof Error ? error.message : error}\n`);
    return ExitCode.INTERNAL_ERROR;
  }
  const { AgentPool } = await import("../queue/agent-pool.js");
  const { agentArgsOf } = await import("../queue/run-spec.js");
  // Paths in a run's arguments are relative to the coordinator's rootdir;
  // here they are resolved against this checkout's (run-spec.ts).
  const root = pytestRootdir({ cwd, args: [], env: process.env });
  const own = agentArgsOf(pytestArgs, cwd, root).args;
  const explicit = {
    ...(pytestArgs.length > 0 ? { args: own } : {}),
    ...(flags.timeout !== undefined ? { timeout: options.timeout } : {}),
  };
  let stopped = false;
  let lostZygote = false;
  const pool = new AgentPool({
    url,
    timings: queueTimings(process.env),
    workers: options.workers,
    name: `${hostname()}:${process.pid}`,
    cwd: root,
    explicit,
    initial: { args: own, timeout: options.timeout },
    log: (line) => process.stdout.write(`${line}\n`),
    lost: (why) => {
      process.stderr.write(`kiln agent: ${why}; stopping (other agents take its jobs)\n`);
      lostZygote = true;
      if (!stopped) {
        stopped = true;
        markStopped();
      }
    },
    launch: (zygote, engine) => {
      let listener: ((signal: NodeJS.Signals) => void) | undefined;
      let stopAsked = false;
      const ended = runTests({
        python: interpreter.path,
        interpreterNote: `interpreter ${interpreter.path} (${interpreter.how})`,
        cwd: root,
        pytestArgs: zygote.args,
        workers: options.workers,
        workersAuto: false,
        dist: options.dist,
        timeout: zygote.timeout,
        env: process.env,
        events: { emit: () => undefined },
        registry: options.registry,
        engine: engine.engine,
        loadDurations: async () => new Map(),
        saveDurations: async () => undefined,
        takeSignals: (given) => {
          listener = given;
          if (stopAsked) given("SIGTERM");
          return () => {
            listener = undefined;
          };
        },
      });
      return {
        ended,
        stop: () => {
          if (stopAsked) return;
          stopAsked = true;
          listener?.("SIGTERM");
        },
        kill: () => listener?.("SIGTERM"),
      };
    },
  });
  let markStopped: () => void = () => undefined;
  const stopAsked = new Promise<undefined>((done) => {
    markStopped = () => done(undefined);
  });
  // The first signal stops the agent (its zygotes interrupted, as a first
  // Ctrl-C interrupts `kiln test`); a second one kills them, as a second does.
  const release = takeSignals(() => {
    if (stopped) {
      pool.kill();
      return;
    }
    stopped = true;
    markStopped();
  });
  let exitCode: number | undefined;
  try {
    exitCode = await Promise.race([pool.start(), stopAsked]);
    if (exitCode === undefined) await stopAsked;
    await pool.stop();
  } finally {
    release();
  }
  if (lostZygote) return ExitCode.INTERNAL_ERROR;
  if (stopped) {
    process.stdout.write("kiln agent: stopped\n");
    return ExitCode.OK;
  }
  if (exitCode !== undefined) {
    process.stderr.write(
      `kiln agent: pytest could not collect with the arguments this agent was started with ` +
        `(exit ${exitCode}), and it takes only runs with those: fix the collection, or start ` +
        "it without pytest arguments (it then takes each run's from the coordinator)\n",
    );
    return exitCode;
  }
  return ExitCode.OK;
}
