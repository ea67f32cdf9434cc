// `--daemon`: Kiln's side of each run goes through `kiln daemon` (issue 11:
// "the parity suite runs every example project both ways"). The daemon is
// started in the run's project copy with the environment the run will have
// (it refuses a run whose environment differs) and stopped after it; a run
// that did not get its zygote from the daemon is a difference.
import { spawnSync } from "node:child_process";

export interface DaemonRun {
  kilnCli: string;
  python: string;
  projectDir: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Starts it; an error message when it did not start. A cold `--collect-only`
 * run first leaves the run record the daemon learns from, and the start waits
 * until level 1 is warm (or says why there is none), so the compared run
 * forks from the deepest level a user's second run would get.
 */
export function startDaemon(run: DaemonRun, kilnArgs: readonly string[]): string | undefined {
  spawnSync(
    process.execPath,
    [
      run.kilnCli,
      "test",
      "--no-daemon",
      "--python",
      run.python,
      "--collect-only",
      "-q",
      ...kilnArgs,
    ],
    { cwd: run.projectDir, env: run.env, stdio: "ignore", timeout: 120_000 },
  );
  const started = daemonCommand(run, ["start", "--python", run.python]);
  if (started.status !== 0) {
    return `kiln daemon start failed (${started.status}): ${started.stderr}${started.stdout}`;
  }
  const deadline = Date.now() + 30_000;
  while (
    /level 1 +(pid \d+, RSS [\d.]+ MiB, )?building/.test(daemonCommand(run, ["status"]).stdout)
  ) {
    if (Date.now() > deadline) break;
    spawnSync("sleep", ["0.1"]);
  }
  return undefined;
}

export function stopDaemon(run: DaemonRun): void {
  daemonCommand(run, ["stop"]);
}

/** Why a run's output says it did not use the daemon, if it does. */
export function daemonNotUsed(stderr: string): string | undefined {
  return stderr.split("\n").find((line) => line.startsWith("kiln: daemon not used"));
}

function daemonCommand(run: DaemonRun, args: string[]) {
  return spawnSync(process.execPath, [run.kilnCli, "daemon", ...args], {
    cwd: run.projectDir,
    env: run.env,
    encoding: "utf8",
    timeout: 120_000,
  });
}
