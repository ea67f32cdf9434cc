// Starting the zygote's interpreter, apart from the handshake
// (zygote-process.ts), so that `kiln test` can start it from main.ts before
// the rest of the CLI is loaded (cli/early-zygote.ts): Python's start-up and
// pytest's import (~80 ms) then overlap Node's (~75 ms of module loading),
// instead of following it (issue 16). Only Node built-ins and harness.ts are
// imported here, for the same reason.
import { type ChildProcess, spawn } from "node:child_process";
import { harnessArgs } from "../config/harness.js";

export interface ZygoteExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started interpreter, before any frame was exchanged with it. */
export interface StartedZygote {
  readonly python: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** When it was spawned (epoch ms), for the run record's zygote:spawned. */
  readonly startedAt: number;
  /** What spawn() threw (nothing was started), or the child. */
  readonly child: { ok: true; process: ChildProcess } | { ok: false; error: unknown };
  /** The child's "error" event (e.g. ENOENT), whenever it came. */
  readonly failed: Promise<NodeJS.ErrnoException>;
  /** "close", not "exit": it fires only after every frame on fd 3 was read. */
  readonly exited: Promise<ZygoteExit>;
}

/**
 * `pipeOutput` (`kiln watch`): the zygote's stdout and stderr, which its
 * workers inherit, are pipes for Kiln to forward (its status line shares the
 * terminal), and its stdin is /dev/null (the keys are Kiln's). Otherwise all
 * three are Kiln's own, so pdb reaches the user's terminal.
 */
export function startZygote(
  python: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  pipeOutput = false,
): StartedZygote {
  const never = new Promise<never>(() => {});
  const startedAt = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(python, harnessArgs("zygote"), {
      cwd,
      env,
      stdio: pipeOutput
        ? ["ignore", "pipe", "pipe", "pipe"]
        : ["inherit", "inherit", "inherit", "pipe"],
      // Its own process group: a terminal Ctrl-C reaches only the
      // supervisor, which then interrupts the zygote exactly once.
      detached: true,
    });
  } catch (error) {
    return {
      python,
      cwd,
      env,
      startedAt,
      child: { ok: false, error },
      failed: never,
      exited: never,
    };
  }
  // Listened to from the start: the events may come before the handshake
  // begins (an "error" nobody listens to would throw).
  const failed = new Promise<NodeJS.ErrnoException>((done) => child.on("error", done));
  const exited = new Promise<ZygoteExit>((done) =>
    child.on("close", (code, signal) => done({ code, signal })),
  );
  return { python, cwd, env, startedAt, child: { ok: true, process: child }, failed, exited };
}

/** Ends a started zygote nobody will talk to (its whole process group). */
export function discardZygote(started: StartedZygote): void {
  if (!started.child.ok) return;
  const pid = started.child.process.pid;
  try {
    if (pid !== undefined) process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Whether a started zygote keeps Node running. An early zygote does not
 * until the run takes it: a command that ends before (a usage error) must
 * let Node exit, which ends the zygote ("exit" in early-zygote.ts).
 */
export function holdZygote(started: StartedZygote, hold: boolean): void {
  if (!started.child.ok) return;
  const child = started.child.process;
  const pipe = child.stdio[3] as { ref?: () => void; unref?: () => void } | null | undefined;
  if (hold) {
    child.ref();
    pipe?.ref?.();
  } else {
    child.unref();
    pipe?.unref?.();
  }
}
