// Which Python runs the user's tests. Explicit choices (--python, KILN_PYTHON)
// must work or fail loudly: silently falling through to another interpreter
// would run the suite against the wrong dependencies. Implicit ones (an
// activated venv, ./.venv, PATH) are tried in order.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

export type InterpreterSource = "--python" | "KILN_PYTHON" | "VIRTUAL_ENV" | ".venv" | "PATH";

export interface InterpreterChoice {
  path: string;
  source: InterpreterSource;
}

export interface InterpreterError {
  /** One paragraph: what was tried and what to do. */
  error: string;
}

export interface InterpreterProbes {
  /** An executable regular file exists at this (absolute) path. */
  exists: (path: string) => boolean;
  /** Absolute path of `name` on PATH, if any. */
  which: (name: string) => string | undefined;
}

export interface InterpreterInput extends InterpreterProbes {
  flag?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

const HINT = "Pass --python PATH or set KILN_PYTHON.";

export function resolveInterpreter(input: InterpreterInput): InterpreterChoice | InterpreterError {
  if (input.flag !== undefined) {
    return explicit(input.flag, "--python", input);
  }
  const fromEnv = input.env.KILN_PYTHON;
  if (fromEnv) return explicit(fromEnv, "KILN_PYTHON", input);

  const tried: string[] = [];
  const venv = input.env.VIRTUAL_ENV;
  if (venv) {
    // Not realpath'd, here or anywhere: a venv's python is a symlink, and
    // Python finds its venv (pyvenv.cfg) from the path it was started as.
    const path = join(resolve(input.cwd, venv), "bin", "python");
    if (input.exists(path)) return { path, source: "VIRTUAL_ENV" };
    tried.push(`$VIRTUAL_ENV (${path} missing)`);
  } else {
    tried.push("$VIRTUAL_ENV (unset)");
  }

  const local = join(input.cwd, ".venv", "bin", "python");
  if (input.exists(local)) return { path: local, source: ".venv" };
  tried.push("./.venv/bin/python (missing)");

  const onPath = input.which("python3");
  if (onPath !== undefined) return { path: onPath, source: "PATH" };
  tried.push("python3 on PATH (not found)");

  return { error: `no Python interpreter found: tried ${tried.join(", ")}. ${HINT}` };
}

/**
 * A value with a slash is a path (relative to cwd); a bare name such as
 * "python3.11" is looked up on PATH, as a shell would.
 */
function explicit(
  value: string,
  source: "--python" | "KILN_PYTHON",
  input: InterpreterInput,
): InterpreterChoice | InterpreterError {
  const label = (shown: string) =>
    source === "--python" ? `--python ${shown}` : `KILN_PYTHON=${shown}`;
  if (value === "") {
    return { error: `--python: empty value. ${HINT}` };
  }
  if (!value.includes("/")) {
    const found = input.which(value);
    if (found !== undefined) return { path: found, source };
    return { error: `${label(value)}: not found on PATH. Give its path instead.` };
  }
  const path = resolve(input.cwd, value);
  if (input.exists(path)) return { path, source };
  const shown = path === value ? value : `${value} (${path})`;
  return { error: `${label(shown)}: no such file, or not executable.` };
}

export function isInterpreterError(
  result: InterpreterChoice | InterpreterError,
): result is InterpreterError {
  return "error" in result;
}

export function describeSource(source: InterpreterSource): string {
  switch (source) {
    case "--python":
      return "from --python";
    case "KILN_PYTHON":
      return "from $KILN_PYTHON";
    case "VIRTUAL_ENV":
      return "from $VIRTUAL_ENV";
    case ".venv":
      return "from ./.venv";
    case "PATH":
      return "from PATH";
  }
}

/** Probes against the real filesystem and process.env.PATH. */
export function defaultProbes(): InterpreterProbes {
  return { exists: isExecutableFile, which: (name) => which(name, process.env.PATH ?? "") };
}

export function isExecutableFile(path: string): boolean {
  try {
    // statSync follows symlinks: a venv python is one, and a dangling link
    // (deleted base interpreter) must count as missing.
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Search `pathVar` like execvp, except that empty and relative entries are
 * skipped: resolving an interpreter from the current directory is how a
 * checked-out repository gets to run its own "python3".
 */
export function which(
  name: string,
  pathVar: string,
  exists: (path: string) => boolean = isExecutableFile,
): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (exists(candidate)) return candidate;
  }
  return undefined;
}
