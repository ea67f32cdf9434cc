#!/usr/bin/env node
// Parity check: run fixture projects with plain pytest (the baseline) and with
// Kiln, and compare {nodeid: outcome} maps, exit codes, and the failure texts
// (per phase), collection errors, warnings summary and conftest import error,
// byte for byte apart from durations and the [kwN] prefix (src/parity/texts.ts).
//
//   node dist/parity/main.js <project-dir> [--python PY] [--kiln-args "..."] [-- extra args]
//   node dist/parity/main.js --all
//
// Exit status (ParityExit): 0 when every run matches, 1 on any difference, 2
// on usage or setup errors.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ParityOptions, parseParityArgs, USAGE, UsageError } from "./args.js";
import {
  compareRuns,
  type Difference,
  formatCounts,
  formatDifference,
  parseOutcomesFile,
} from "./compare.js";
import { daemonNotUsed, startDaemon, stopDaemon } from "./daemon-mode.js";
import type { RecordedRun } from "./process.js";
import { OUTCOMES_ENV } from "./process.js";
import {
  listFixtureProjects,
  loadProject,
  type ParityRun,
  type Project,
  resolveProjectDir,
  runDirectory,
} from "./projects.js";
import { DEFAULT_KILN_CLI, runKiln } from "./run-kiln.js";
import { runPytest } from "./run-pytest.js";
import { withoutExemptTexts } from "./texts.js";

// The parity tool's own statuses: it is a development tool, not `kiln`, so
// they are not in src/protocol/exit-codes.ts (Kiln's table).
const ParityExit = { MATCH: 0, DIFFERENT: 1, SETUP_ERROR: 2 } as const;

interface RunReport {
  label: string;
  ok: boolean;
  tests: number;
  lines: string[];
}

function describeChild(side: string, run: RecordedRun, includeOutput: boolean): string[] {
  const lines: string[] = [];
  if (run.timedOut) lines.push(`${side} timed out after ${run.seconds.toFixed(1)}s and was killed`);
  if (run.outcomes === null) {
    const how = run.signal ? `signal ${run.signal}` : `exit ${run.exitCode}`;
    lines.push(`${side}: ${run.outcomesError ?? "no outcomes"} (${how})`);
  }
  if (includeOutput || run.outcomes === null) {
    lines.push(...indentBlock(`${side} stdout (tail)`, run.stdoutTail));
    lines.push(...indentBlock(`${side} stderr (tail)`, run.stderrTail));
  }
  return lines;
}

function indentBlock(title: string, text: string): string[] {
  const trimmed = text.trimEnd();
  if (trimmed === "") return [];
  const body = trimmed.split("\n").slice(-40);
  return [`--- ${title}`, ...body.map((line) => `  | ${line}`)];
}

function readExpected(project: Project, run: ParityRun) {
  const file = join(project.dir, "expected", `${run.name}.json`);
  if (!existsSync(file)) return undefined;
  return parseOutcomesFile(readFileSync(file, "utf8"));
}

async function checkRun(
  project: Project,
  run: ParityRun,
  options: ParityOptions,
  kilnCli: string,
  scratch: string,
): Promise<RunReport> {
  const label = `${project.name}:${run.name}`;
  const adHoc = options.extraArgs.length > 0;
  const pytestArgs = [...run.pytestArgs, ...options.extraArgs];
  const kilnArgs = [...run.kilnArgs, ...options.kilnArgs, ...options.extraArgs];
  const lines: string[] = [];
  const differences: Difference[] = [];

  const baseline = await runPytest({
    python: options.python,
    projectDir: project.dir,
    args: pytestArgs,
    outcomesFile: join(scratch, `${project.name}.${run.name}.pytest.json`),
    timeoutSeconds: options.timeoutSeconds,
  });
  lines.push(...describeChild("pytest", baseline, options.verbose));
  let setupProblem = baseline.outcomes === null || baseline.timedOut;
  if (run.exitCode !== undefined && !adHoc && baseline.exitCode !== run.exitCode) {
    lines.push(
      `baseline exit code ${baseline.exitCode} differs from parity.json's ${run.exitCode}`,
    );
    setupProblem = true;
  }

  if (options.baselineOnly) {
    const expected = adHoc ? undefined : readExpected(project, run);
    if (expected && baseline.outcomes) {
      differences.push(
        ...compareRuns(
          { exitCode: expected.exitCode, outcomes: expected.outcomes },
          { exitCode: baseline.exitCode, outcomes: baseline.outcomes },
        ),
      );
      lines.push(
        ...differences.flatMap((d) =>
          formatDifference(d, { pytest: "expected", kiln: "pytest" }).split("\n"),
        ),
      );
    }
  } else {
    const outcomesFile = join(scratch, `${project.name}.${run.name}.kiln.json`);
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
    const daemon = options.daemon
      ? {
          kilnCli,
          python: options.python,
          projectDir: project.dir,
          env: { ...env, [OUTCOMES_ENV]: outcomesFile },
        }
      : undefined;
    const notStarted = daemon ? startDaemon(daemon, kilnArgs) : undefined;
    if (notStarted !== undefined) lines.push(notStarted);
    const kilnRun = () =>
      runKiln({
        kilnCli,
        python: options.python,
        projectDir: project.dir,
        args: kilnArgs,
        env,
        outcomesFile,
        timeoutSeconds: options.timeoutSeconds,
      });
    // Two identical runs through the daemon first: the compared run then
    // forks from the collection the second one held when its inputs still
    // match, as a user's third identical run does (README "Daemon", held
    // collections; the first run creates .pytest_cache, a new entry in the
    // rootdir, so what it held is stale).
    if (daemon && notStarted === undefined) for (let i = 0; i < 2; i++) await kilnRun();
    const kiln = await kilnRun();
    if (daemon && /collection held: \d+ items/.test(kiln.stdoutTail)) {
      lines.push("--daemon: forked from a held collection");
    }
    if (daemon) {
      stopDaemon(daemon);
      const cold = notStarted ?? daemonNotUsed(kiln.stderrTail);
      if (cold !== undefined) {
        lines.push(`--daemon: the run did not use the daemon: ${cold}`);
        setupProblem = true;
      }
    }
    lines.push(...describeChild("kiln", kiln, options.verbose));
    if (baseline.outcomes && kiln.outcomes) {
      const exempt = new Set(Object.keys(run.textExempt));
      differences.push(
        ...withoutExemptTexts(
          compareRuns(
            { exitCode: baseline.exitCode, outcomes: baseline.outcomes, texts: baseline.texts },
            { exitCode: kiln.exitCode, outcomes: kiln.outcomes, texts: kiln.texts },
          ),
          exempt,
        ),
      );
    } else if (baseline.exitCode !== kiln.exitCode) {
      differences.push({ kind: "exit-code", pytest: baseline.exitCode, kiln: kiln.exitCode });
    }
    if (kiln.outcomes === null || kiln.timedOut) setupProblem = true;
    lines.push(...differences.flatMap((d) => formatDifference(d).split("\n")));
    if (options.verbose) {
      lines.push(`kiln: exit ${kiln.exitCode} in ${kiln.seconds.toFixed(1)}s`);
    }
  }

  const outcomes = baseline.outcomes ?? {};
  if (options.verbose) {
    lines.push(
      `pytest: exit ${baseline.exitCode} in ${baseline.seconds.toFixed(1)}s: ${formatCounts(outcomes)}`,
    );
  }
  return {
    label,
    ok: !setupProblem && differences.length === 0,
    tests: Object.keys(outcomes).length,
    lines,
  };
}

/** The modules of `requires` that `python` cannot import. */
function missingModules(python: string, requires: readonly string[]): string[] {
  return requires.filter(
    (module) => spawnSync(python, ["-c", `import ${module}`], { stdio: "ignore" }).status !== 0,
  );
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ParityOptions;
  try {
    options = parseParityArgs(argv, process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`parity: ${err.message}\n\n${USAGE}`);
      return ParityExit.SETUP_ERROR;
    }
    throw err;
  }
  if (options.help) {
    console.log(USAGE);
    return ParityExit.MATCH;
  }

  let projects: Project[];
  try {
    const dirs = options.all
      ? listFixtureProjects()
      : options.projects.map((arg) => resolveProjectDir(arg));
    projects = dirs.map((dir) => loadProject(dir));
  } catch (err) {
    console.error(`parity: ${err instanceof Error ? err.message : String(err)}`);
    return ParityExit.SETUP_ERROR;
  }

  if (options.python.includes("/") && !existsSync(options.python)) {
    console.error(`parity: no interpreter at ${options.python}`);
    return ParityExit.SETUP_ERROR;
  }

  const kilnCli = options.kilnCli ?? DEFAULT_KILN_CLI;
  if (!options.baselineOnly && !existsSync(kilnCli)) {
    console.error(
      `parity: Kiln's CLI is not at ${kilnCli} (run \`npm run build\`, or pass --kiln)`,
    );
    return ParityExit.SETUP_ERROR;
  }

  const selected = projects.flatMap((project) =>
    project.runs
      .filter((run) => options.runNames.length === 0 || options.runNames.includes(run.name))
      .map((run) => ({ project, run })),
  );
  if (selected.length === 0) {
    console.error(`parity: no run named ${options.runNames.join(", ")}`);
    return ParityExit.SETUP_ERROR;
  }

  const scratch = mkdtempSync(join(tmpdir(), "kiln-parity-"));
  let failed = 0;
  let skipped = 0;
  const missing = new Map<Project, string[]>();
  try {
    for (const { project, run } of selected) {
      if (!missing.has(project))
        missing.set(project, missingModules(options.python, project.requires));
      const lacks = missing.get(project) ?? [];
      if (lacks.length > 0) {
        // A plugin project under an interpreter without the plugin: nothing to compare.
        skipped++;
        console.log(
          `SKIP ${project.name}:${run.name} (${options.python} lacks ${lacks.join(", ")})`,
        );
        continue;
      }
      const dir = runDirectory(project, run.name, scratch);
      const report = await checkRun({ ...project, dir }, run, options, kilnCli, scratch);
      if (dir !== project.dir) rmSync(dirname(dir), { recursive: true, force: true });
      if (report.ok) {
        console.log(`OK ${report.label} (${report.tests} tests)`);
      } else {
        failed++;
        console.log(`FAIL ${report.label} (${report.tests} tests)`);
      }
      for (const line of report.lines) console.log(`  ${line}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const total = selected.length - skipped;
  const skips = skipped > 0 ? ` (${skipped} skipped: plugins missing)` : "";
  console.log(
    failed === 0
      ? `parity: all ${total} runs match${skips}`
      : `parity: ${failed} of ${total} runs differ${skips}`,
  );
  return failed === 0 ? ParityExit.MATCH : ParityExit.DIFFERENT;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = ParityExit.SETUP_ERROR;
  },
);
