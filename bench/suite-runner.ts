// Timing a set of commands on one suite: one untimed warm-up each (it writes
// __pycache__, pytest's rewritten .pyc files and Kiln's recorded durations),
// then N rounds that run every command once, rotating which goes first, so a
// noisy minute on the shared machine hits every command rather than one.
// A command that fails, or runs different tests than plain pytest, is
// reported and dropped, never timed silently.
import type { BenchCommand } from "./commands.js";
import { type BenchDaemon, startBenchDaemon } from "./daemon.js";
import { type RunResult, runCommand } from "./run-command.js";
import { profileRun } from "./run-profile.js";
import { readLatestRun } from "./run-record.js";

export type CommandStatus = "ok" | "failed" | "skipped";

export interface CommandOutcome {
  label: string;
  status: CommandStatus;
  /** Why it failed or was skipped. */
  note: string | undefined;
  warmup: RunResult | undefined;
  /** The counted rounds. */
  runs: RunResult[];
  /** The run that failed, with its output. */
  failure: RunResult | undefined;
  /** A daemon command's level 0, idle, right after it started (kB). */
  daemonIdleRssKb?: number;
  /** Its level 1 (bench/daemon.ts). */
  daemonLevel1?: BenchDaemon["level1"];
}

export interface SuiteRunPlan {
  dir: string;
  python: string;
  env: NodeJS.ProcessEnv;
  commands: readonly BenchCommand[];
  /** The suite's own pytest arguments, given to every command. */
  pytestArgs: readonly string[];
  warmup: boolean;
  rounds: number;
  expectedExit: number;
  /** Any run longer than this is killed and counts as a failure. */
  limitS: number;
  /** Depths whose per-process private memory is sampled in the counted rounds. */
  ussDepths: readonly number[];
  /** The same for the untimed warm-up, where sampling more costs no figure. */
  warmupUssDepths: readonly number[];
  log(line: string): void;
}

export async function runSuite(plan: SuiteRunPlan): Promise<CommandOutcome[]> {
  const outcomes = new Map<string, CommandOutcome>();
  for (const command of plan.commands) {
    outcomes.set(command.label, {
      label: command.label,
      status: "ok",
      note: undefined,
      warmup: undefined,
      runs: [],
      failure: undefined,
    });
  }
  const outcomeOf = (command: BenchCommand) => outcomes.get(command.label) as CommandOutcome;
  const started = new Set<string>();
  let daemon: BenchDaemon | undefined;
  try {
    return await runRounds();
  } finally {
    daemon?.stop();
  }

  async function runRounds(): Promise<CommandOutcome[]> {
    const once = async (command: BenchCommand, phase: string): Promise<RunResult | undefined> => {
      const outcome = outcomeOf(command);
      const first = !started.has(command.label);
      started.add(command.label);
      const firstLimit = first ? command.firstRunLimitS : undefined;
      if (first && command.daemon && daemon === undefined) {
        daemon = startBenchDaemon(plan.dir, plan.python, plan.env, plan.log);
        if (daemon.idleRssKb !== undefined) outcome.daemonIdleRssKb = daemon.idleRssKb;
        outcome.daemonLevel1 = daemon.level1;
      }
      const limitS = firstLimit ?? plan.limitS;
      const result = await runCommand({
        argv: command.argv(plan.python, plan.pytestArgs),
        cwd: plan.dir,
        env: plan.env,
        limitMs: limitS * 1000,
        ussDepths: phase === "warm-up" ? plan.warmupUssDepths : plan.ussDepths,
      });
      if (command.kiln) {
        // Read now: the next Kiln run replaces .kiln/runs/latest.
        const record = readLatestRun(plan.dir);
        if (record) result.profile = profileRun(record, result.spawnedAtEpochMs, result.wallMs);
      }
      const seconds = (result.wallMs / 1000).toFixed(2);
      if (result.timedOut && firstLimit !== undefined) {
        outcome.status = "skipped";
        outcome.note = `skipped: its first run took over ${firstLimit} s (stopped there)`;
      } else if (result.timedOut) {
        outcome.status = "failed";
        outcome.note = `FAILED: killed after ${limitS} s`;
        outcome.failure = result;
      } else if (result.exitCode !== plan.expectedExit) {
        outcome.status = "failed";
        outcome.note = `FAILED: ${result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`} (expected ${plan.expectedExit})`;
        outcome.failure = result;
      }
      plan.log(
        `${phase} ${command.label}: ${seconds} s${outcome.note ? ` — ${outcome.note}` : ""}`,
      );
      return outcome.status === "ok" ? result : undefined;
    };

    if (plan.warmup) {
      for (const command of plan.commands)
        outcomeOf(command).warmup = await once(command, "warm-up");
    }
    for (let round = 0; round < plan.rounds; round++) {
      const active = plan.commands.filter((c) => outcomeOf(c).status === "ok");
      const shift = active.length === 0 ? 0 : round % active.length;
      for (const command of [...active.slice(shift), ...active.slice(0, shift)]) {
        const result = await once(command, `round ${round + 1}/${plan.rounds}`);
        if (result) outcomeOf(command).runs.push(result);
      }
    }
    checkSameTests([...outcomes.values()]);
    return [...outcomes.values()];
  }
}

/** "2000 passed, 3 warnings" -> "2000 passed": warnings may legitimately differ per runner. */
function testCounts(summary: string | undefined): string {
  return (summary ?? "?")
    .split(", ")
    .filter((part) => !/\bwarnings?\b/.test(part))
    .join(", ");
}

/** Every command must report the same counts as the first one (plain pytest). */
function checkSameTests(outcomes: CommandOutcome[]): void {
  const ok = outcomes.filter((o) => o.status === "ok" && o.runs.length + (o.warmup ? 1 : 0) > 0);
  const reference = ok[0];
  if (reference === undefined) return;
  const runsOf = (o: CommandOutcome) => [...(o.warmup ? [o.warmup] : []), ...o.runs];
  const expected = testCounts(runsOf(reference)[0]?.summary);
  for (const outcome of ok) {
    const odd = runsOf(outcome).find((run) => testCounts(run.summary) !== expected);
    if (odd === undefined) continue;
    outcome.status = "failed";
    outcome.note = `FAILED: reported "${testCounts(odd.summary)}", ${reference.label} "${expected}"`;
    outcome.failure = odd;
  }
}
