// `kiln test` starts its zygote from main.ts, before commander and the rest
// of the CLI are loaded (~75 ms of Node module loading), so the interpreter's
// start-up and pytest's import run meanwhile (issue 16: "Spawn Python first,
// in parallel with loading the rest of the CLI"). The zygote imports pytest
// before it reads the hello (kiln_harness/zygote.py), which the run sends
// once the options are parsed.
//
// The interpreter is guessed here from a plain scan of the arguments for
// --python; the run uses the early zygote only if the real choice
// (interpreter-choice.ts, after commander) is the same interpreter in the same
// directory, and otherwise ends it and starts its own. A command that never
// runs (a usage error, --kiln-help) ends it when Kiln exits. So a wrong guess
// costs time, never behaviour. Imports only what zygote-start.ts needs.
import { defaultProbes, isInterpreterError, resolveInterpreter } from "../config/interpreter.js";
import { daemonInfoNear } from "../config/kiln-dir.js";
import {
  discardZygote,
  holdZygote,
  type StartedZygote,
  startZygote,
} from "../zygote/zygote-start.js";

let early: StartedZygote | undefined;

/** Starts the zygote `kiln test <args>` will most likely want. */
export function startEarlyZygote(args: readonly string[]): void {
  const flag = pythonFlag(args);
  const cwd = process.cwd();
  // A project with a daemon gets its zygote from there (run-tests.ts): a
  // spawned one would only compete for the CPU. If the daemon turns out
  // unusable, the run spawns its own, as after a wrong guess.
  if (!args.includes("--no-daemon") && daemonInfoNear(cwd) !== undefined) return;
  const chosen = resolveInterpreter({
    ...defaultProbes(),
    ...(flag === undefined ? {} : { flag }),
    env: process.env,
    cwd,
  });
  // An unusable choice is reported by the command, with its own words.
  if (isInterpreterError(chosen)) return;
  const started = startZygote(chosen.path, cwd, process.env);
  holdZygote(started, false);
  early = started;
  if (process.env.KILN_DEBUG && started.child.ok) {
    process.stderr.write(
      `kiln: debug: zygote started early (pid ${started.child.process.pid}, ${chosen.path})\n`,
    );
  }
  process.on("exit", () => {
    if (early === started) discardZygote(started);
  });
}

/**
 * The early zygote, if it was started for this interpreter and directory
 * (ownership passes to the caller); any other early zygote is ended.
 */
export function takeEarlyZygote(python: string, cwd: string): StartedZygote | undefined {
  const started = early;
  early = undefined;
  if (started === undefined) return undefined;
  if (started.python === python && started.cwd === cwd && started.env === process.env) {
    holdZygote(started, true);
    return started;
  }
  discardZygote(started);
  return undefined;
}

/**
 * --python's value as commander would read it in the common cases
 * (`--python X`, `--python=X`, before any `--`); anything odder is left to
 * the real parse, which then starts its own zygote if the guess was wrong.
 */
export function pythonFlag(args: readonly string[]): string | undefined {
  return flagValue(args, "--python");
}

/** A long option's value read that way (`--queue X`, `--queue=X`; early-queue.ts too). */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") break;
    if (arg === flag && i + 1 < args.length) found = args[++i];
    else if (arg.startsWith(`${flag}=`)) found = arg.slice(flag.length + 1);
  }
  return found;
}
