// Runs one command to completion while sampling its process tree: wall time
// from spawn to exit, exit status, the tail of its output and pytest's summary
// line (so a command that ran a different number of tests stands out).
import { spawn } from "node:child_process";
import type { RunProfile } from "./run-profile.js";
import { type TreeFigures, TreeSampler } from "./sampler.js";

export interface CommandRun {
  argv: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kill the whole tree after this long and report a time-out. */
  limitMs: number;
  ussDepths: readonly number[];
}

export interface RunResult {
  /** When the bench spawned the command, in epoch ms (the clock of Kiln's run record). */
  spawnedAtEpochMs: number;
  wallMs: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** pytest's last summary line without its timing, e.g. "2000 passed". */
  summary: string | undefined;
  /** The last few kB of stdout and stderr, for reporting a failure. */
  outputTail: string;
  tree: TreeFigures;
  /** Kiln's run, as its run record tells it (suite-runner.ts fills it in for Kiln's commands). */
  profile?: RunProfile | undefined;
}

const TAIL_BYTES = 3_000;

export function runCommand(run: CommandRun): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = run.argv;
    if (file === undefined) {
      reject(new Error("empty command"));
      return;
    }
    const startedAt = performance.now();
    const spawnedAtEpochMs = performance.timeOrigin + startedAt;
    const child = spawn(file, args, {
      cwd: run.cwd,
      env: run.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // Only the tail matters; trimming as we go keeps 2,000-test outputs cheap.
    const keep = (text: string) => (text.length > 4 * TAIL_BYTES ? text.slice(-TAIL_BYTES) : text);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout = keep(stdout + chunk.toString("utf8"));
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = keep(stderr + chunk.toString("utf8"));
    });
    const pid = child.pid;
    if (pid === undefined) {
      child.on("error", reject);
      return;
    }
    const sampler = new TreeSampler(pid, startedAt, { ussDepths: run.ussDepths });
    sampler.start();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Every process of the tree by pid: the kiln zygote runs in its own
      // process group, so a group kill would miss it.
      for (const victim of sampler.livePids().reverse()) {
        try {
          process.kill(victim, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }, run.limitMs);
    let wallMs = 0;
    child.on("exit", () => {
      wallMs = performance.now() - startedAt;
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      sampler.stop();
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const tree = sampler.stop();
      resolve({
        spawnedAtEpochMs,
        wallMs,
        exitCode: code,
        signal,
        timedOut,
        summary: summaryLine(stdout),
        outputTail: tail(`${stdout}${stderr ? `\n--- stderr ---\n${stderr}` : ""}`),
        tree,
      });
    });
  });
}

function tail(text: string): string {
  return text.length > TAIL_BYTES ? `…${text.slice(-TAIL_BYTES)}` : text;
}

const SUMMARY_WORDS =
  /\b\d+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|tests? collected)\b|no tests ran/;

/** pytest's final "N passed, M failed in 1.23s" line, minus the timing and the "=" rule. */
export function summaryLine(stdout: string): string | undefined {
  const lines = stdout.trimEnd().split("\n");
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 5; i--) {
    const line = lines[i] ?? "";
    if (!SUMMARY_WORDS.test(line)) continue;
    return line
      .replace(/^=+\s*|\s*=+$/g, "")
      .replace(/ in [\d.]+s( \([\d:]+\))?$/, "")
      .trim();
  }
  return undefined;
}
