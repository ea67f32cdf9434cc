// `kiln watch [pytest args]`: reruns the tests an edit affects, on every
// edit, with jest's and vitest's watch-mode keys. Takes `kiln test`'s flags.
import type { Command } from "commander";
import { pytestRootdir } from "../config/rootdir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { chooseInterpreter } from "./interpreter-choice.js";
import { takeSignals } from "./signals.js";
import { parseTestOptions, type RawTestOptions, UsageError } from "./test-options.js";

// An editor's save is a burst of events a few ms apart (write a temporary
// file, rename it over the original; or truncate, then write), as is a
// `git checkout`. 30 ms joins such a burst into one run and is a fifth of the
// edit → result budget (issue 11: p50 ≤ 150 ms), where 100 ms was two thirds.
// A change that still comes after the run started is run after it
// (watch-machine.ts), so a burst split in two costs a run, never a stale result.
const DEBOUNCE_MS = 30;

export function registerWatchCommand(program: Command): void {
  program
    .command("watch")
    .description(
      "Watch the project and rerun the tests each edit affects. Keys: a all, f failed, " +
        "p file filter, t name filter, Enter rerun, q quit. Any argument Kiln does not own " +
        "is passed to pytest.",
    )
    .argument("[pytest-args...]", "paths and pytest arguments")
    .option("-n, --numprocesses <n>", 'number of workers, or "auto" for one per core', "auto")
    .option("--dist <mode>", "how items are grouped per worker: module, class or test", "module")
    .option("--timeout <seconds>", "fail a test that runs longer, with its Python stack")
    .option("--python <path>", "the interpreter to run pytest with")
    .option("--no-daemon", "start cold zygotes even when `kiln daemon` runs for this project")
    .option("--no-registry", "import project modules normally (no compiled-code registry)")
    .option(
      "--store <url>",
      "where compiled modules live: sqlite (default, .kiln/) or redis://host:port",
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption("-h, --kiln-help", "show Kiln's help for `kiln watch`")
    .action(async (pytestArgs: string[], raw: RawTestOptions) => {
      process.exitCode = await watchAction(pytestArgs, raw);
    });
}

async function watchAction(pytestArgs: string[], raw: RawTestOptions): Promise<number> {
  let options: ReturnType<typeof parseTestOptions>;
  try {
    options = parseTestOptions(raw);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  const cwd = process.cwd();
  const interpreter = chooseInterpreter(options.python, cwd);
  if (!interpreter.ok) {
    process.stderr.write(`kiln: error: ${interpreter.message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  if (process.stdout.isTTY) {
    // pytest's output reaches the terminal through Kiln (the status line
    // shares it), so pytest sees a pipe: tell it what the terminal is
    // (PY_COLORS is pytest's own switch; COLUMNS is what
    // shutil.get_terminal_size reads when there is no terminal).
    if (process.env.NO_COLOR === undefined) process.env.PY_COLORS ??= "1";
    process.env.COLUMNS ??= String(process.stdout.columns ?? 80);
  }
  const rootdir = pytestRootdir({ cwd, args: pytestArgs, env: process.env });
  const { InProcessRunner } = await import("../daemon/watch-runner.js");
  const { watchFiles } = await import("../daemon/watch-files.js");
  const { runWatchSession } = await import("../daemon/watch-session.js");
  const runner = new InProcessRunner({
    cwd,
    interpreter: { path: interpreter.path, how: interpreter.how },
    options,
    pytestArgs,
    argv: process.argv.slice(2),
    daemon: options.daemon,
  });
  return runWatchSession({
    runner,
    watch: (changed, failed) => watchFiles(rootdir, cwd, changed, failed),
    root: rootdir,
    debounceMs: DEBOUNCE_MS,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    takeSignals,
  });
}
