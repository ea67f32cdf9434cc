// `kiln report [dir] [--report ids-or-paths] [-o out]`: re-render a recorded
// run (a run directory, a `latest` link, or a project whose .kiln/runs/latest
// names one) with any set of report modules. Also the renderer `kiln test
// --report` calls after its run, so both give byte-identical files.
import type { Command } from "commander";
import { resolveRunDir } from "../events/run-dir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { ReportModule } from "../reports/module.js";
import { reportDirProblem } from "../reports/output-dir.js";
import {
  defaultReportDir,
  parseReportList,
  ReportSelectionError,
  renderReports,
  resolveModules,
} from "../reports/registry.js";

/** What `kiln report` renders when --report is not given. */
export const DEFAULT_REPORTS = ["junit", "html", "trace", "json", "summary"];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description(
      "Render reports from a recorded run (default: .kiln/runs/latest). Modules: junit, html, " +
        "trace, json, summary, or a path to your own ESM module.",
    )
    .argument("[dir]", "a run directory, or a project directory", ".")
    .option("--report <modules>", "comma-separated module ids or paths (repeatable)", collect, [])
    .option("-o, --output <dir>", "where to write (default: <run-dir>/reports)")
    .option(
      "--merge <runs...>",
      "join these run directories (the shards of `kiln test --shard`) into one run, " +
        "render its reports and write its durations.json; exits with the merged run's code",
    )
    .option(
      "--out <dir>",
      "with --merge: the merged run's directory (default: a new run in .kiln/runs, whose " +
        "durations also go to .kiln/durations.json)",
    )
    .action(async (dir: string, raw: ReportFlags) => {
      if (raw.merge !== undefined) {
        const { mergeAction } = await import("./report-merge.js");
        if (raw.output !== undefined) {
          process.stderr.write(
            "kiln: error: --merge writes its reports into <merged run>/reports; use --out for the merged run's directory, not -o\n",
          );
          process.exitCode = ExitCode.USAGE_ERROR;
          return;
        }
        process.exitCode = await mergeAction({
          runs: dir === "." ? raw.merge : [dir, ...raw.merge],
          out: raw.out,
          reports: raw.report.length > 0 ? parseReportList(raw.report) : DEFAULT_REPORTS,
          cwd: process.cwd(),
          argv: process.argv.slice(2),
        });
        return;
      }
      if (raw.out !== undefined) {
        process.stderr.write("kiln: error: --out goes with --merge; use -o for reports\n");
        process.exitCode = ExitCode.USAGE_ERROR;
        return;
      }
      process.exitCode = await reportAction(dir, raw);
    });
}

interface ReportFlags {
  report: string[];
  output?: string;
  merge?: string[];
  out?: string;
}

async function reportAction(
  dir: string,
  raw: { report: string[]; output?: string },
): Promise<number> {
  let runDir: string;
  try {
    runDir = resolveRunDir(dir);
  } catch (error) {
    process.stderr.write(`kiln: error: ${(error as Error).message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  const specs = raw.report.length > 0 ? parseReportList(raw.report) : DEFAULT_REPORTS;
  const outcome = await writeRunReports(runDir, specs, raw.output, { printTerminal: true });
  return outcome;
}

export interface WriteOptions {
  /** Print the modules' terminal text (the summary) on stdout. */
  printTerminal: boolean;
}

/**
 * Renders `specs` for the run in `runDir` into `output` (default
 * <runDir>/reports). Returns OK, USAGE_ERROR for a bad selection or output
 * directory, or REPORT_MODULE_FAILED (the others were still written).
 */
export async function writeRunReports(
  runDir: string,
  specs: readonly string[],
  output: string | undefined,
  options: WriteOptions,
): Promise<number> {
  const selection = await selectReports(specs, output);
  if (typeof selection === "string") {
    process.stderr.write(`kiln: error: ${selection}\n`);
    return ExitCode.USAGE_ERROR;
  }
  return renderRunReports(runDir, selection, options);
}

export interface ReportSelection {
  modules: ReportModule[];
  /** undefined: the run's default, <run-dir>/reports. */
  output: string | undefined;
}

/**
 * Loads the report modules and checks the output directory, before any run
 * or render (issue 9: a typo in --report was found only after the suite ran).
 * Returns the selection, or the usage error's message.
 */
export async function selectReports(
  specs: readonly string[],
  output: string | undefined,
): Promise<ReportSelection | string> {
  let modules: ReportModule[];
  try {
    modules = await resolveModules(specs, process.cwd());
  } catch (error) {
    if (error instanceof ReportSelectionError) return error.message;
    throw error;
  }
  if (output !== undefined) {
    const problem = reportDirProblem(output, process.cwd());
    if (problem !== undefined) return `report directory: ${problem}`;
  }
  return { modules, output };
}

/** Renders an already checked selection; OK, or REPORT_MODULE_FAILED when a module failed. */
export async function renderRunReports(
  runDir: string,
  selection: ReportSelection,
  options: WriteOptions,
): Promise<number> {
  const warn = (message: string) => process.stderr.write(`kiln: ${message}\n`);
  const outDir = selection.output ?? defaultReportDir(runDir);
  let result: Awaited<ReturnType<typeof renderReports>>;
  try {
    result = await renderReports(runDir, selection.modules, outDir, warn);
  } catch (error) {
    process.stderr.write(`kiln: error: cannot render reports for ${runDir}: ${String(error)}\n`);
    return ExitCode.USAGE_ERROR;
  }
  if (options.printTerminal) for (const text of result.terminal) process.stdout.write(text);
  process.stderr.write(`kiln: reports in ${outDir} (${result.written.length} files)\n`);
  return result.failed.length > 0 ? ExitCode.REPORT_MODULE_FAILED : ExitCode.OK;
}
