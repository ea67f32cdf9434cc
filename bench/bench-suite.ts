// One suite end to end: generate it if needed, time every command, time the
// --collect-only pair, and print its section of the report.
import type { BenchCommand } from "./commands.js";
import { materialize, suiteDir } from "./materialize.js";
import { collectOnlyCommands, memoryTable } from "./micro.js";
import type { PythonProbe } from "./python-probe.js";
import type { SuiteRecord } from "./results.js";
import { type CommandOutcome, runSuite } from "./suite-runner.js";
import { failureDetails, suiteTable } from "./suite-table.js";
import type { Suite } from "./suites.js";

// Rounds of the --collect-only comparison (cheap, so fewer are enough).
const COLLECT_ROUNDS = 3;
// A single run longer than this is a hang, not a figure.
const RUN_LIMIT_S = { full: 600, quick: 120 };

export interface SuiteContext {
  probe: PythonProbe;
  env: NodeJS.ProcessEnv;
  commands: readonly BenchCommand[];
  quick: boolean;
  /** --rounds, when given. */
  rounds: number | undefined;
  print(text: string): void;
  log(text: string): void;
}

export interface SuiteResult {
  record: SuiteRecord;
  failed: boolean;
}

export async function benchSuite(suite: Suite, ctx: SuiteContext): Promise<SuiteResult> {
  const spec = suite.build(ctx.quick, ctx.probe);
  const dir = suiteDir(suite.name, ctx.quick);
  if (materialize(dir, spec)) ctx.log(`[${suite.name}] generated ${dir}`);
  const rounds = ctx.quick ? 1 : (ctx.rounds ?? suite.rounds);
  const warmup = !ctx.quick;
  const run = (
    commands: readonly BenchCommand[],
    opts: { rounds: number; warmup: boolean; ussDepths: number[]; tag: string },
  ) =>
    runSuite({
      dir,
      python: ctx.probe.python,
      env: ctx.env,
      commands,
      warmup: opts.warmup,
      rounds: opts.rounds,
      expectedExit: 0,
      limitS: ctx.quick ? RUN_LIMIT_S.quick : RUN_LIMIT_S.full,
      ussDepths: opts.ussDepths,
      log: (line) => ctx.log(`[${suite.name}${opts.tag}] ${line}`),
    });

  const main = await run(ctx.commands, {
    rounds,
    warmup,
    // Every depth: the supervisor, the zygote or controller, the workers.
    ussDepths: suite.sampleWorkerMemory ? [0, 1, 2] : [],
    tag: "",
  });
  // The main runs already warmed this suite up.
  const collectOnly = await run(collectOnlyCommands(), {
    rounds: Math.min(rounds, COLLECT_ROUNDS),
    warmup: false,
    ussDepths: [],
    tag: " collect-only",
  });

  ctx.print(`\n### ${suite.name} — ${spec.title}\n`);
  const plural = rounds === 1 ? "" : "s";
  ctx.print(
    `${rounds} round${plural}${warmup ? " after one untimed warm-up" : ""}; ${suite.about}.\n`,
  );
  ctx.print(suiteTable(main));
  const details = failureDetails([...main, ...collectOnly]);
  if (details) ctx.print(`\n${details}`);
  if (suite.sampleWorkerMemory) {
    ctx.print(`\n#### Memory per process during ${suite.name} (medians over rounds)\n`);
    ctx.print(memoryTable(main));
  }

  const all: CommandOutcome[] = [...main, ...collectOnly];
  return {
    record: {
      name: suite.name,
      title: spec.title,
      dir,
      rounds,
      warmup,
      commands: main,
      collectOnly,
    },
    failed: all.some((o) => o.status === "failed"),
  };
}
