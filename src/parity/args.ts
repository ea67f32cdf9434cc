// Command-line parsing for the parity script, and a small shell-like splitter
// for --kiln-args "...".

import { resolve } from "node:path";

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
  const options: ParityOptions = {
    all: false,
    projects: [],
    python: resolveInterpreter(env.KILN_PYTHON || "/usr/bin/python3", cwd),
    kilnArgs: [],
    extraArgs: [],
    runNames: [],
    kilnCli: undefined,
    baselineOnly: false,
    timeoutSeconds: 300,
    verbose: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      i++;
      return next;
    };
    switch (arg) {
      case "--":
        options.extraArgs = argv.slice(i + 1);
        i = argv.length;
        break;
      case "--all":
        options.all = true;
        break;
      case "--python":
        options.python = resolveInterpreter(value(), cwd);
        break;
      case "--kiln-args":
        options.kilnArgs.push(...splitArgs(value()));
        break;
      case "--run":
        options.runNames.push(value());
        break;
      case "--kiln":
        options.kilnCli = value();
        break;
      case "--baseline-only":
        options.baselineOnly = true;
        break;
      case "--timeout": {
        const raw = value();
        const seconds = Number(raw);
        if (!Number.isFinite(seconds) || seconds <= 0) {
          throw new UsageError(`--timeout needs a positive number of seconds, got ${raw}`);
        }
        options.timeoutSeconds = seconds;
        break;
      }
      case "--verbose":
      case "-v":
        options.verbose = true;
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
        options.projects.push(arg);
    }
  }
  if (!options.help && !options.all && options.projects.length === 0) {
    throw new UsageError("give a project directory or --all");
  }
  return options;
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
