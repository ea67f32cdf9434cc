// Command-line parsing for the parity script, and a small shell-like splitter
// for --kiln-args "...".

import { resolve } from "node:path";
import { Command, CommanderError } from "commander";

export interface ParityOptions {
  all: boolean;
  projects: string[];
  python: string;
  kilnArgs: string[];
  extraArgs: string[];
  runNames: string[];
  kilnCli: string | undefined;
  baselineOnly: boolean;
  timeoutSeconds: number;
  verbose: boolean;
  /** Kiln's runs go through `kiln daemon` (daemon-mode.ts). */
  daemon: boolean;
  help: boolean;
}

export const USAGE = `usage: node dist/parity/main.js <project-dir>... [options] [-- extra args]
       node dist/parity/main.js --all [options] [-- extra args]

Runs each run of a project's parity.json twice, with plain pytest (the
baseline, with kiln_harness.outcome_recorder) and with \`kiln test\`, and
compares {nodeid: outcome} maps, exit codes, and the texts pytest prints:
failure text per phase, collection errors, the warnings summary and an
initial conftest's import error (equal apart from durations and [kwN]).

options:
  --all                 every project under tests/fixtures/projects
  --python PY           interpreter (default: $KILN_PYTHON or /usr/bin/python3)
  --kiln-args "ARGS"    extra arguments for kiln only (e.g. "-n 4")
  --run NAME            only this run of each parity.json (repeatable)
  --kiln PATH           Kiln's CLI entry point (default: <repo>/dist/cli/main.js)
  --baseline-only       run only pytest; check it against parity.json's exit
                        code and expected/<run>.json
  --timeout SECONDS     kill a run after this long (default: 300)
  --verbose             show the output tails of every run
  --daemon              run kiln through \`kiln daemon\` (started in each run's
                        project copy, stopped after it)
  -- ARGS               extra arguments for both pytest and kiln`;

export class UsageError extends Error {}

/**
 * An interpreter given as a path is taken relative to where the tool was
 * started: the runs themselves start in each project's directory, where a
 * relative path such as .venvs/pytest-9.1/bin/python would name nothing. A
 * bare name (python3) stays a PATH lookup, as a shell would do it.
 */
export function resolveInterpreter(python: string, cwd: string): string {
  return python.includes("/") ? resolve(cwd, python) : python;
}

export function parseParityArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): ParityOptions {
  // Everything after the first `--` goes to pytest and kiln untouched; commander
  // would merge it into the project operands.
  const dashes = argv.indexOf("--");
  const own = dashes < 0 ? argv : argv.slice(0, dashes);
  const command = new Command()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .helpOption(false)
    .argument("[projects...]")
    .option("--all")
    .option("--python <py>")
    .option(
      "--kiln-args <args>",
      "",
      (value: string, previous: string[]) => [...previous, ...splitArgs(value)],
      [] as string[],
    )
    .option("--run <name>", "", (value: string, previous: string[]) => [...previous, value], [])
    .option("--kiln <path>")
    .option("--baseline-only")
    .option("--timeout <seconds>", "", (raw: string) => {
      const seconds = Number(raw);
      if (!Number.isFinite(seconds) || seconds <= 0) {
        throw new UsageError(`--timeout needs a positive number of seconds, got ${raw}`);
      }
      return seconds;
    })
    .option("-v, --verbose")
    .option("--daemon")
    .option("-h, --help");
  try {
    command.parse(own, { from: "user" });
  } catch (error) {
    // commander's own messages ("error: unknown option '--bogus'"), minus the prefix.
    if (error instanceof CommanderError)
      throw new UsageError(error.message.replace(/^error: /, ""));
    throw error;
  }
  const flags = command.opts<ParsedFlags>();
  const options: ParityOptions = {
    all: flags.all === true,
    projects: [...command.args],
    python: resolveInterpreter(flags.python ?? (env.KILN_PYTHON || "/usr/bin/python3"), cwd),
    kilnArgs: flags.kilnArgs,
    extraArgs: dashes < 0 ? [] : argv.slice(dashes + 1),
    runNames: flags.run,
    kilnCli: flags.kiln,
    baselineOnly: flags.baselineOnly === true,
    timeoutSeconds: flags.timeout ?? 300,
    verbose: flags.verbose === true,
    daemon: flags.daemon === true,
    help: flags.help === true,
  };
  if (!options.help && !options.all && options.projects.length === 0) {
    throw new UsageError("give a project directory or --all");
  }
  return options;
}

/** What commander hands back for the options above. */
interface ParsedFlags {
  all?: boolean;
  python?: string;
  kilnArgs: string[];
  run: string[];
  kiln?: string;
  baselineOnly?: boolean;
  timeout?: number;
  verbose?: boolean;
  daemon?: boolean;
  help?: boolean;
}

/**
 * Split a command line the way a POSIX shell would for plain words: blanks
 * separate words, '...' is literal, "..." allows \" \\ \$ \` escapes, and a
 * backslash outside quotes escapes the next character. No expansions.
 */
export function splitArgs(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`unterminated ' in ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        const next = line[i + 1];
        if (d === "\\" && next !== undefined && '"\\$`'.includes(next)) {
          word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      if (!closed) throw new UsageError(`unterminated " in ${JSON.stringify(line)}`);
      inWord = true;
    } else if (c === "\\") {
      const next = line[i + 1];
      if (next === undefined) throw new UsageError(`trailing backslash in ${JSON.stringify(line)}`);
      word += next;
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
