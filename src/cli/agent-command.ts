// `kiln agent --queue redis://HOST:PORT [-n N] [--project DIR] [pytest args]`:
// one machine's share of `kiln test --queue` runs (queue/agent-run.ts). It
// starts a zygote for the project (imports and collects once), then takes
// jobs from the queue until it is stopped (SIGINT/SIGTERM: the jobs it was
// running are re-taken by another agent once their lock expires). Its
// compiled-code store is the queue's Redis unless --store says otherwise, so
// a new agent on a fresh machine starts warm from what others compiled.
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
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
    .argument("[pytest-args...]", "pytest arguments for this agent's collection")
    .requiredOption("--queue <url>", "the queue's Redis, redis://HOST:PORT[/DB]")
    .option("-n, --numprocesses <n>", 'workers (and jobs run at once), or "auto"', "auto")
    .option("--project <dir>", "the project's checkout (default: the current directory)")
    .option("--timeout <seconds>", "per-test timeout; must match the coordinator's --timeout")
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
  const { QueueAgent } = await import("../queue/agent-run.js");
  const agent = new QueueAgent({
    url,
    timings: queueTimings(process.env),
    timeout: options.timeout,
    name: `${hostname()}:${process.pid}`,
    cwd,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  let stopped = false;
  const exitCode = await runTests({
    python: interpreter.path,
    interpreterNote: `interpreter ${interpreter.path} (${interpreter.how})`,
    cwd,
    pytestArgs,
    workers: options.workers,
    workersAuto: false,
    dist: options.dist,
    timeout: options.timeout,
    env: process.env,
    events: { emit: () => undefined },
    registry: options.registry,
    engine: agent.engine,
    loadDurations: async () => new Map(),
    saveDurations: async () => undefined,
    takeSignals: (listener) =>
      takeSignals((signal) => {
        stopped = true;
        listener(signal);
      }),
  });
  await agent.close();
  if (stopped) {
    process.stdout.write("kiln agent: stopped\n");
    return ExitCode.OK;
  }
  return exitCode;
}
