// What the daemon's e2e tests share (daemon.test.ts, daemon-level1.test.ts,
// watch-daemon.test.ts): one environment for the daemon and every run (the
// daemon refuses a run whose environment differs: level0.py VOLATILE_ENV), so
// the outcome recorder's file is the same for each run, and each run
// overwrites it; daemons started are killed after each test, so a failed test
// leaves none (the global guard would fail the run).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, expect } from "vitest";
import { pythonWithPytest, type RecordedOutcomes, runKiln } from "./kiln.js";
import { processAlive } from "./processes.js";
import { tempDir } from "./temp.js";

export type RecordedRun = Awaited<ReturnType<DaemonTestKit["recorded"]>>;

export interface DaemonTestKit {
  python: string;
  env: Record<string, string>;
  kiln(args: string[], cwd: string): ReturnType<typeof runKiln>;
  /** `kiln daemon start` in `cwd`; its pid, killed after the test. */
  startDaemon(cwd: string, extra?: string[]): Promise<number>;
  /** A run with the outcome recorder: its result and {nodeid: outcome, failures}. */
  recorded(
    args: string[],
    cwd: string,
  ): Promise<{
    result: Awaited<ReturnType<typeof runKiln>>;
    outcomes: RecordedOutcomes & { failures: Record<string, Record<string, string>> };
  }>;
  /** A daemon started some other way, killed after the test too. */
  track(pid: number): void;
}

/** Call at a test file's top level: registers the afterEach/afterAll clean-up. */
export function daemonTestKit(name: string): DaemonTestKit {
  const python = pythonWithPytest();
  const outcomesFile = join(tempDir(`kiln-${name}-outcomes-`), "outcomes.json");
  const env = { KILN_PYTHON: python, KILN_OUTCOMES_FILE: outcomesFile };
  const daemons = new Set<number>();
  afterEach(() => {
    for (const pid of daemons) if (processAlive(pid)) process.kill(pid, "SIGKILL");
    daemons.clear();
  });
  afterAll(() => rmSync(outcomesFile, { force: true }));
  const kiln = (args: string[], cwd: string) => runKiln(args, { cwd, env, timeoutMs: 90_000 });
  return {
    python,
    env,
    kiln,
    track: (pid) => daemons.add(pid),
    async startDaemon(cwd, extra = []) {
      const started = await kiln(["daemon", "start", ...extra], cwd);
      expect(started.code, started.stderr).toBe(0);
      const pid = Number(/\(pid (\d+),/.exec(started.stdout)?.[1]);
      expect(processAlive(pid), started.stdout).toBe(true);
      daemons.add(pid);
      return pid;
    },
    async recorded(args, cwd) {
      rmSync(outcomesFile, { force: true });
      const result = await kiln(["test", "-p", "kiln_harness.outcome_recorder", ...args], cwd);
      const outcomes = JSON.parse(readFileSync(outcomesFile, "utf8")) as RecordedOutcomes & {
        failures: Record<string, Record<string, string>>;
      };
      return { result, outcomes };
    },
  };
}

/** stdout without what differs between any two runs: durations, addresses, ids, Kiln's header. */
export function normalized(stdout: string): string {
  return stdout
    .split("\n")
    .filter((line) => !line.startsWith("kiln: "))
    .join("\n")
    .replace(/ in [\d.]+s/g, " in Ns")
    .replace(/0x[0-9a-f]+/g, "0xADDR")
    .replace(/id='\d+'/g, "id='N'")
    .replace(/pid \d+/g, "pid N");
}

/** Whether `pid` is gone within `ms`. */
export async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Until `kiln daemon status` says level 1 is warm: its status line. */
export async function level1Warm(kit: DaemonTestKit, dir: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await kit.kiln(["daemon", "status"], dir);
    const line = status.stdout.split("\n").find((l) => l.startsWith("level 1")) ?? "";
    if (/RSS [\d.]+ MiB, warm, \d+ project modules held/.test(line)) return line;
    if (Date.now() > deadline) throw new Error(`level 1 never became warm:\n${status.stdout}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
