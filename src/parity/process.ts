// Run a child process to completion: keep only the tail of its output, kill
// its whole process group on timeout, and read the outcome recorder's file.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { ExitCode } from "../protocol/exit-codes.js";
import { type OutcomeMap, parseOutcomesFile } from "./compare.js";
import type { RunTexts } from "./texts.js";

export const OUTCOMES_ENV = "KILN_OUTCOMES_FILE";
const TAIL_BYTES = 64 * 1024;
const EXIT_GRACE_MS = 2000;

export interface ChildResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdoutTail: string;
  stderrTail: string;
  seconds: number;
}

export interface RecordedRun extends ChildResult {
  /** The recorder's {nodeid: outcome}; null when it wrote no (valid) file. */
  outcomes: OutcomeMap | null;
  /** Failure texts, collection errors, warnings summary (undefined with outcomes null). */
  texts: RunTexts | undefined;
  /** Why outcomes is null. */
  outcomesError: string | undefined;
}

export interface ChildSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutSeconds: number;
}

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > TAIL_BYTES && this.chunks.length > 1) {
      const first = this.chunks.shift() as Buffer;
      this.size -= first.length;
      this.dropped = true;
    }
  }

  text(): string {
    let buf = Buffer.concat(this.chunks);
    let dropped = this.dropped;
    if (buf.length > TAIL_BYTES) {
      buf = buf.subarray(buf.length - TAIL_BYTES);
      dropped = true;
    }
    return (dropped ? "[...]\n" : "") + buf.toString("utf8");
  }
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of liveGroups) killGroup(pid);
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const pid of liveGroups) killGroup(pid);
      process.exit(ExitCode.KEYBOARD_INTERRUPT);
    });
  }
}

export function runChild(spec: ChildSpec): Promise<ChildResult> {
  installExitHook();
  const started = process.hrtime.bigint();
  return new Promise((resolvePromise, reject) => {
    // detached: its own process group, so a timeout kills Kiln's zygote and workers too.
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stdout = new Tail();
    const stderr = new Tail();
    let timedOut = false;
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killGroup(pid);
    }, spec.timeoutSeconds * 1000);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (err) => {
      clearTimeout(timer);
      if (pid !== undefined) liveGroups.delete(pid);
      reject(err);
    });
    // Grandchildren that outlive the child (a daemonised zygote, a test's
    // subprocess) would hold the pipes open: give them a moment, then kill.
    let graceTimer: NodeJS.Timeout | undefined;
    child.on("exit", () => {
      graceTimer = setTimeout(() => {
        if (pid !== undefined) killGroup(pid);
      }, EXIT_GRACE_MS);
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      if (pid !== undefined) {
        liveGroups.delete(pid);
        // Leftover grandchildren (a crashed test's subprocesses, Kiln workers) must not linger.
        killGroup(pid);
      }
      resolvePromise({
        exitCode,
        signal,
        timedOut,
        stdoutTail: stdout.text(),
        stderrTail: stderr.text(),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
  });
}

/** Run a child with KILN_OUTCOMES_FILE=outcomesFile and read what the recorder wrote. */
export async function runRecorded(spec: ChildSpec, outcomesFile: string): Promise<RecordedRun> {
  const result = await runChild({ ...spec, env: { ...spec.env, [OUTCOMES_ENV]: outcomesFile } });
  if (!existsSync(outcomesFile)) {
    return {
      ...result,
      outcomes: null,
      texts: undefined,
      outcomesError: "the outcome recorder wrote no file",
    };
  }
  try {
    const { outcomes, texts } = parseOutcomesFile(readFileSync(outcomesFile, "utf8"));
    return { ...result, outcomes, texts, outcomesError: undefined };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ...result,
      outcomes: null,
      texts: undefined,
      outcomesError: `unreadable outcomes file: ${message}`,
    };
  }
}
