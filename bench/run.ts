// `npm run bench`: generate the suites, time every command on each, print a
// markdown table per suite plus Kiln's start-up and memory figures, and save
// the raw figures under bench/results/.
import { ArgsError, parseArgs, USAGE } from "./args.js";
import { benchSuite } from "./bench-suite.js";
import { COMMANDS } from "./commands.js";
import { benchEnv, DROPPED_ENV } from "./env.js";
import { checkKilnBuild } from "./kiln-build.js";
import { describeMachine, loadAverage, machineLine } from "./machine.js";
import { startupTable } from "./micro.js";
import { DEFAULT_PYTHON } from "./paths.js";
import { probePython } from "./python-probe.js";
import { type SuiteRecord, writeResults } from "./results.js";
import { ALL_SUITES, findSuite, REAL_SUITES, SUITES, type Suite } from "./suites.js";
import { targetsTable } from "./targets.js";

const print = (text: string) => process.stdout.write(`${text}\n`);
const log = (text: string) => process.stderr.write(`${text}\n`);

/** No names: every suite (--quick: those it runs); "real": the real suites. */
function selectSuites(names: readonly string[], quick: boolean): Suite[] {
  if (names.length === 0) return quick ? SUITES.filter((s) => s.inQuick) : [...ALL_SUITES];
  return names.flatMap((name) => {
    if (name === "real") return [...REAL_SUITES];
    const suite = findSuite(name);
    if (suite === undefined) {
      const known = [...ALL_SUITES.map((s) => s.name), "real"].join(", ");
      throw new ArgsError(`unknown suite ${name}; one of ${known}`);
    }
    return [suite];
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    print(USAGE);
    for (const suite of ALL_SUITES) print(`  ${suite.name.padEnd(16)} ${suite.about}`);
    print(`  ${"real".padEnd(16)} all the real-* suites`);
    return 0;
  }
  const suites = selectSuites(args.suites, args.quick);
  const build = checkKilnBuild();
  if (build.error) {
    log(`bench: ${build.error}`);
    return 2;
  }
  if (build.warning) log(`bench: warning: ${build.warning}`);

  const startedAt = new Date();
  const clock = performance.now();
  const probe = probePython(args.python ?? DEFAULT_PYTHON);
  const machine = describeMachine(probe);
  // Per suite too (bench-suite.ts): a real suite has its own interpreter.
  const missing = COMMANDS.filter((c) => c.requires && probe.modules[c.requires] === undefined);
  const loadBefore = loadAverage();

  const note = args.quick ? " (--quick: checks the commands work; times mean nothing)" : "";
  print(`## Kiln benchmarks${note}\n`);
  print(`${startedAt.toISOString()} — ${machineLine(machine)}; load average ${loadBefore}`);
  for (const c of missing) print(`\n\`${c.label}\` is left out: ${c.requires} is not importable.`);

  const ctx = {
    probe,
    env: benchEnv(),
    quick: args.quick,
    rounds: args.rounds,
    print,
    log,
  };
  const records: SuiteRecord[] = [];
  let failed = false;
  for (const suite of suites) {
    const result = await benchSuite(suite, ctx);
    if (result === undefined) continue;
    records.push(result.record);
    failed ||= result.failed;
  }

  print("\n### Kiln start-up (medians; from outside the process, sampled every 20 ms)\n");
  print(startupTable(records));

  print("\n### issue 16 targets: target vs now\n");
  print(targetsTable(records));

  const durationS = (performance.now() - clock) / 1000;
  const loadAfter = loadAverage();
  const file = writeResults({
    startedAt: startedAt.toISOString(),
    durationS,
    quick: args.quick,
    machine,
    droppedEnv: DROPPED_ENV,
    loadAverage: { before: loadBefore, after: loadAfter },
    suites: records,
  });
  const minutes = (durationS / 60).toFixed(1);
  print(
    `\nTotal bench time ${minutes} min; load average at the end ${loadAfter}; raw figures in ${file}`,
  );
  if (failed) log("bench: some commands failed (see the tables)");
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ArgsError) {
      log(`bench: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
