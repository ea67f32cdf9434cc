// One suite end to end: generate it if needed, time every command, time the
// --collect-only pair, and print its section of the report: the timings, then
// Kiln's cold-run profile and micro-figures from its run records.
import { type BenchCommand, COMMANDS } from "./commands.js";
import { materialize, suiteDir } from "./materialize.js";
import { collectOnlyCommands, memoryTable } from "./micro.js";
import { microTable, phaseTable } from "./profile-tables.js";
import { type PythonProbe, probePython } from "./python-probe.js";
import type { SuiteRecord } from "./results.js";
import { type CommandOutcome, runSuite } from "./suite-runner.js";
import { failureDetails, suiteTable } from "./suite-table.js";
import type { Suite } from "./suites.js";

// Rounds of the --collect-only comparison (cheap, so fewer are enough).
const COLLECT_ROUNDS = 3;
// A single run longer than this is a hang, not a figure.
const RUN_LIMIT_S = { full: 600, quick: 120 };

export interface SuiteContext {
  /** The bench's --python, probed. */
  probe: PythonProbe;
  env: NodeJS.ProcessEnv;
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

const probes = new Map<string, PythonProbe>();

/** The suite's interpreter, probed once per bench run. */
function suiteProbe(suite: Suite, ctx: SuiteContext): PythonProbe {
  if (suite.interpreter === undefined) return ctx.probe;
  const python = suite.interpreter((line) => ctx.log(`[${suite.name}] ${line}`));
  let probe = probes.get(python);
  if (probe === undefined) {
    probe = probePython(python);
    probes.set(python, probe);
  }
  return probe;
}

function describeProbe(probe: PythonProbe): string {
  const mods = Object.entries(probe.modules)
    .map(([name, version]) => `${name.replace("_", "-")} ${version}`)
    .join(", ");
  return `${probe.python} (Python ${probe.version}; ${mods})`;
}

/** A suite that cannot be set up (no venv): a note in the report, not a failed bench. */
export async function benchSuite(
  suite: Suite,
  ctx: SuiteContext,
): Promise<SuiteResult | undefined> {
  let probe: PythonProbe;
  try {
    probe = suiteProbe(suite, ctx);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    ctx.print(
      `\n### ${suite.name} — not run: cannot set up its interpreter\n\n\`\`\`\n${why}\n\`\`\``,
    );
    return undefined;
  }
  const wanted = COMMANDS.filter((c) => suite.labels.includes(c.label));
  const missing = wanted.filter((c) => c.requires && probe.modules[c.requires] === undefined);
  const commands: BenchCommand[] = wanted.filter((c) => !missing.includes(c));
  const spec = suite.build(ctx.quick, probe);
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
      python: probe.python,
      env: ctx.env,
      commands,
      pytestArgs: suite.pytestArgs,
      warmup: opts.warmup,
      rounds: opts.rounds,
      expectedExit: 0,
      limitS: ctx.quick ? RUN_LIMIT_S.quick : RUN_LIMIT_S.full,
      ussDepths: opts.ussDepths,
      // Forked workers' private memory for the micro-figures, where it costs no timing.
      warmupUssDepths: [...new Set([...opts.ussDepths, 2])],
      log: (line) => ctx.log(`[${suite.name}${opts.tag}] ${line}`),
    });

  const main = await run(commands, {
    rounds,
    warmup,
    // Every depth: the supervisor, the zygote or controller, the workers.
    // --quick has no warm-up and its times mean nothing: sample the workers there.
    ussDepths: suite.sampleWorkerMemory ? [0, 1, 2] : ctx.quick ? [2] : [],
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
  if (suite.interpreter !== undefined) ctx.print(`Interpreter: ${describeProbe(probe)}.\n`);
  if (suite.pytestArgs.length > 0) {
    ctx.print(`Every command also gets \`${suite.pytestArgs.join(" ")}\`.\n`);
  }
  // The bench's own interpreter's gaps are printed once at the top (run.ts).
  if (suite.interpreter !== undefined)
    for (const c of missing)
      ctx.print(`\`${c.label}\` is left out: ${c.requires} is not importable.\n`);
  ctx.print(suiteTable(main));
  for (const o of main) {
    if (o.daemonIdleRssKb !== undefined) {
      ctx.print(
        `\n\`${o.label}\`: the daemon's level 0 (interpreter, pytest, Kiln's harness and the ` +
          `modules the last run imported) holds ${(o.daemonIdleRssKb / 1024).toFixed(1)} MiB ` +
          "resident while idle.\n",
      );
    }
    const l1 = o.daemonLevel1;
    if (l1 !== undefined) {
      ctx.print(
        typeof l1 === "string"
          ? `Its level 1: ${l1}.\n`
          : `Its level 1 holds ${l1.modules} project modules, ${(l1.rssKb / 1024).toFixed(1)} MiB ` +
              `resident; forked from level 0 to warm in ${l1.buildMs} ms, of which its imports took ` +
              `${l1.importMs} ms (the re-fork after an edit to a module it holds).\n`,
      );
    }
  }
  const details = failureDetails([...main, ...collectOnly]);
  if (details) ctx.print(`\n${details}`);
  if (suite.sampleWorkerMemory) {
    ctx.print(`\n#### Memory per process during ${suite.name} (medians over rounds)\n`);
    ctx.print(memoryTable(main));
  }

  const phases = phaseTable(main);
  if (phases) {
    ctx.print(
      `\n#### Cold-run profile of ${suite.name} (Kiln's run records, medians over rounds)\n`,
    );
    ctx.print(phases);
  }
  const micro = microTable(main);
  if (micro) {
    ctx.print(
      `\n#### In-run figures of ${suite.name} (run records pooled over rounds; USS sampled in the warm-up)\n`,
    );
    ctx.print(micro);
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
