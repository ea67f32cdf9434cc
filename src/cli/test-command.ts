// `kiln test [paths] [pytest args]`: Kiln's flags are parsed here, every other
// argument reaches pytest unchanged and in order (commander keeps unknown
// options and their values as operands with allowUnknownOption).
import type { Command } from "commander";
import { KilnConfigError, loadKilnConfig } from "../config/kiln-config.js";
import { findDaemon } from "../daemon/find-daemon.js";
import { KeepRunsError, keepRunsFromEnv } from "../events/run-dir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { HelloToZygote } from "../protocol/messages.js";
import type { QueueCoordinator } from "../queue/coordinator-run.js";
import { resolveIsolation } from "../sandbox/profiles.js";
import { takeEarlyZygote } from "./early-zygote.js";
import { chooseInterpreter } from "./interpreter-choice.js";
import { recordedRun } from "./recorded-run.js";
import type { ReportSelection } from "./report-command.js";
import { takeSignals } from "./signals.js";
import { parseTestOptions, type RawTestOptions, UsageError } from "./test-options.js";

export function registerTestCommand(program: Command): void {
  program
    .command("test")
    .description(
      "Run pytest from a warm zygote. Any argument Kiln does not own is passed to pytest " +
        "(paths, -k, -m, -x, --maxfail, -q, -v, -s, -r, --durations, -p, -o, ...).",
    )
    .argument("[pytest-args...]", "paths and pytest arguments")
    .option("-n, --numprocesses <n>", 'number of workers, or "auto" for one per core', "auto")
    .option("--dist <mode>", "how items are grouped per worker: module, class or test", "module")
    .option("--timeout <seconds>", "fail a test that runs longer, with its Python stack")
    .option("--python <path>", "the interpreter to run pytest with")
    .option("--no-registry", "import project modules normally (no compiled-code registry)")
    .option("--no-daemon", "start a cold zygote even when `kiln daemon` runs for this project")
    .option(
      "--isolate <profile>",
      "sandbox the workers: none (default), hermetic or strict ([tool.kiln] isolate)",
    )
    .option(
      "--store <url>",
      "where compiled modules live: sqlite (default, .kiln/) or redis://host:port",
    )
    .option(
      "--report <modules>",
      "after the run, render these report modules (junit,html,trace,json,summary or ./module.js)",
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option("--report-dir <dir>", "where --report writes (default: .kiln/runs/<run-id>/reports)")
    .option(
      "--shard <I/N>",
      "run shard I of N: the collected tests split by recorded durations " +
        "(.kiln/durations.json); join the runs with `kiln report --merge`",
    )
    .option(
      "--queue <url>",
      "run the tests on `kiln agent` processes through this Redis (redis://HOST:PORT)",
    )
    .option("--run-id <id>", "--queue: this run's id in the queue (default: a random one)")
    .option("--fallback-local", "--queue: with no agent connected, run the tests here")
    .option(
      "--queue-wait <seconds>",
      "--queue: how long to wait for an agent before giving up (default 30)",
    )
    .option(
      "--changed [ref]",
      "run only the test files affected by the files changed against a git ref " +
        "(default: the working tree against HEAD, untracked files included)",
    )
    .option(
      "--affected-by <files>",
      "run only the test files affected by these files (repeatable, or comma-separated)",
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(
      "-h, --kiln-help",
      "show Kiln's help for `kiln test` (pytest's own --help passes through)",
    )
    .action(async (pytestArgs: string[], raw: RawTestOptions & ReportFlags) => {
      process.exitCode = await testAction(pytestArgs, raw);
    });
}

interface ReportFlags {
  queue?: string;
  runId?: string;
  fallbackLocal?: boolean;
  queueWait?: string;
  report: string[];
  reportDir?: string;
  changed?: string | boolean;
  affectedBy: string[];
}

async function testAction(givenArgs: string[], raw: RawTestOptions & ReportFlags): Promise<number> {
  let pytestArgs = givenArgs;
  let options: ReturnType<typeof parseTestOptions>;
  try {
    options = parseTestOptions(raw);
    // Before the run, not when the recorder prunes after it.
    keepRunsFromEnv(process.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof KeepRunsError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  // Report modules and --report-dir are checked before the run, so a typo is
  // a usage error now rather than a silent exit 0 after the whole suite.
  // The report modules are loaded only for a run that asks for them: a plain
  // `kiln test` skips ~8 ms of module loading at start-up (issue 16).
  const reporting =
    raw.report.length > 0 || raw.reportDir !== undefined
      ? {
          ...(await import("../reports/registry.js")),
          ...(await import("./report-command.js")),
        }
      : undefined;
  const reports = reporting ? reporting.parseReportList(raw.report) : [];
  let selection: ReportSelection | undefined;
  if (reporting && (reports.length > 0 || raw.reportDir !== undefined)) {
    const selected = await reporting.selectReports(reports, raw.reportDir);
    if (typeof selected === "string") {
      process.stderr.write(`kiln: error: ${selected}\n`);
      return ExitCode.USAGE_ERROR;
    }
    selection = selected;
  }
  const cwd = process.cwd();
  let isolation: ReturnType<typeof resolveIsolation>;
  try {
    const config = loadKilnConfig(cwd);
    isolation = resolveIsolation(options.isolate, config.isolate, config.limits);
  } catch (error) {
    if (error instanceof KilnConfigError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  const interpreter = chooseInterpreter(options.python, cwd);
  if (!interpreter.ok) {
    process.stderr.write(`kiln: error: ${interpreter.message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  // --changed / --affected-by: loaded only when asked for (start-up, issue 16).
  let select: HelloToZygote["select"];
  if (raw.changed !== undefined || raw.affectedBy.length > 0) {
    const chosen = await selectTests(raw, pytestArgs, cwd, interpreter.path);
    if (typeof chosen === "number") return chosen;
    ({ select, pytestArgs } = chosen);
  }
  let coordinator: QueueCoordinator | undefined;
  if (raw.queue !== undefined) {
    const connected = await connectQueue(raw, options, {
      pytestArgs,
      cwd,
      narrowed: select !== undefined,
    });
    if (typeof connected === "number") return connected;
    coordinator = connected;
  }
  // The coordinator's queue thread keeps the process alive until closed,
  // whatever the run's end.
  let recorded: Awaited<ReturnType<typeof recordedRun>>;
  try {
    recorded = await recordedRun({
      argv: process.argv.slice(2),
      cwd,
      interpreter,
      options,
      pytestArgs,
      isolation,
      zygote: takeEarlyZygote(interpreter.path, cwd),
      ...(select === undefined ? {} : { select }),
      ...(options.daemon ? { daemon: findDaemon(cwd, pytestArgs, process.env) } : {}),
      ...(coordinator === undefined
        ? {}
        : {
            engine: coordinator.engine,
            // Not "up to N workers forked": the agents' workers run the tests.
            workersNote: `tests run by kiln agent processes taking jobs from ${raw.queue}`,
          }),
      takeSignals,
    });
  } finally {
    await coordinator?.close();
  }
  const { exitCode, runDir } = recorded;
  if (selection !== undefined && reports.length > 0) {
    if (runDir === undefined) {
      process.stderr.write("kiln: warning: no run record (KILN_NO_EVENTS=1?), so no --report\n");
    } else {
      // The tests' exit code stands; a failed report module is reported on stderr.
      await reporting?.renderRunReports(runDir, selection, { printTerminal: false });
    }
  }
  return exitCode;
}

/**
 * `--queue`: the coordinator (connecting to the queue's Redis while the run
 * starts), or the exit code of a usage error.
 */
async function connectQueue(
  raw: ReportFlags,
  options: ReturnType<typeof parseTestOptions>,
  run: { pytestArgs: string[]; cwd: string; narrowed: boolean },
): Promise<QueueCoordinator | number> {
  const { parseQueueUrl, QueueUrlError } = await import("../queue/queue-url.js");
  const { QueueCoordinator } = await import("../queue/coordinator-run.js");
  const wait = raw.queueWait === undefined ? 30 : Number(raw.queueWait);
  let url: string;
  try {
    url = parseQueueUrl(raw.queue ?? "");
    if (options.shard !== undefined) throw new UsageError("--queue and --shard exclude each other");
    if (!Number.isFinite(wait) || wait < 0) {
      throw new UsageError(`--queue-wait expects seconds, got ${raw.queueWait}`);
    }
    if (raw.runId !== undefined && !/^[\w.-]+$/.test(raw.runId)) {
      throw new UsageError(`--run-id takes letters, digits, '.', '_' and '-', got ${raw.runId}`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof QueueUrlError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  const { randomBytes } = await import("node:crypto");
  const { agentArgsOf } = await import("../queue/run-spec.js");
  const { pytestRootdir, shellSplit } = await import("../config/rootdir.js");
  // Paths go to the agents relative to this checkout's rootdir (as pytest
  // finds it from here), each agent resolving them against its own.
  const root = pytestRootdir({ cwd: run.cwd, args: [], env: process.env });
  const agentArgs = agentArgsOf(run.pytestArgs, run.cwd, root);
  // PYTEST_ADDOPTS is each machine's own (pytest reads it there), but an -x
  // in the coordinator's stops this run: pytest puts it before the arguments.
  const addopts = shellSplit(process.env.PYTEST_ADDOPTS ?? "");
  const { maxfail } = agentArgsOf([...addopts, ...run.pytestArgs], run.cwd, root);
  const { takeEarlyQueue } = await import("./early-queue.js");
  const thread = takeEarlyQueue(url);
  return new QueueCoordinator({
    agentArgs: { ...agentArgs, maxfail, narrowed: agentArgs.narrowed || run.narrowed },
    url,
    ...(thread === undefined ? {} : { thread }),
    runId: raw.runId ?? `run-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`,
    agentWaitMs: wait * 1000,
    fallbackLocal: raw.fallbackLocal === true,
  });
}

/**
 * The selection for --changed / --affected-by, or the exit code when the run
 * ends here: a usage error (4), or no test file affected (0, with a line
 * saying so, as jest's --onlyChanged: nothing changed is not a failure).
 */
async function selectTests(
  raw: ReportFlags,
  pytestArgs: string[],
  cwd: string,
  python: string,
): Promise<{ select: HelloToZygote["select"]; pytestArgs: string[] } | number> {
  const { resolveSource, prepareSelection, helloSelect } = await import(
    "../daemon/affected-run.js"
  );
  const { ChangeSourceError } = await import("../daemon/affected-inputs.js");
  const { KilnConfigError } = await import("../config/pyproject-kiln.js");
  try {
    const resolved = resolveSource(raw, pytestArgs, cwd);
    if (resolved === null) return { select: undefined, pytestArgs };
    const prepared = await prepareSelection({ resolved, cwd, python, env: process.env });
    if (prepared.selection.all === null && prepared.selection.selected.size === 0) {
      process.stdout.write(`${prepared.line}; nothing to run\n`);
      return ExitCode.OK;
    }
    return { select: helloSelect(prepared), pytestArgs: resolved.pytestArgs };
  } catch (error) {
    if (error instanceof ChangeSourceError || error instanceof KilnConfigError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
}
