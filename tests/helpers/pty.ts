// Running the built CLI on a real pseudo-terminal (tests/helpers/pty_session.py,
// Python's pty module), for what only a terminal shows: debugger prompts.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { CLI, REPO } from "./kiln.js";

export interface PtyStep {
  /** A regex awaited in the output after the previous step's match. */
  expect: string;
  /** Wait this long after the match before typing. */
  delaySeconds?: number;
  send?: string;
  /** Write this file (path relative to the command's cwd) before typing. */
  write?: { path: string; text: string };
  /** Then send this signal number to the command. */
  signal?: number;
}

export interface PtyResult {
  /** Everything the terminal showed (CRLF as LF, colours stripped). */
  transcript: string;
  exitCode: number | null;
  signal: number | null;
  /** A step whose text never came, or a command that did not finish. */
  error: string | null;
  /** The command's pid. */
  pid: number;
}

const DRIVER = join(REPO, "tests/helpers/pty_session.py");

export function runOnPty(
  argv: string[],
  cwd: string,
  steps: PtyStep[],
  timeoutSeconds = 20,
  env: NodeJS.ProcessEnv = {},
): Promise<PtyResult> {
  const spec = {
    argv,
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", TERM: "xterm", ...env },
    steps,
    timeoutSeconds,
  };
  return new Promise((done, fail) => {
    const child = spawn("/usr/bin/python3", [DRIVER], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.on("error", fail);
    child.on("close", (code) => {
      if (code !== 0) {
        fail(new Error(`pty driver exited with ${code}: ${out}`));
        return;
      }
      done(JSON.parse(out) as PtyResult);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

/** `kiln test ARGS` on a pty. */
export function kilnOnPty(args: string[], cwd: string, steps: PtyStep[]): Promise<PtyResult> {
  return runOnPty([process.execPath, CLI, "test", ...args], cwd, steps);
}
