// Selecting and running report modules. `--report` takes built-in ids and
// paths to a team's own modules (ESM files whose default export is a
// ReportModule). Each module renders from the record alone; one that throws
// (or returns something unwritable) is reported by name and the others still
// write their files.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RECORD_FILES, type RecordFile, type RecordsByFile } from "../events/records.js";
import { htmlModule, runTitle } from "./html.js";
import { type RenderedModule, renderIndexPage } from "./index-page.js";
import { jsonModule } from "./json.js";
import { junitModule } from "./junit.js";
import {
  isReportModule,
  type ReportContext,
  type ReportModule,
  type ReportOutput,
} from "./module.js";
import { emptyRecords, type LoadedRun, loadRun } from "./run-data.js";
import { summaryModule } from "./summary.js";
import { buildFiles, buildTests } from "./test-model.js";
import { traceModule } from "./trace.js";

export const BUILTIN_MODULES: readonly ReportModule[] = [
  junitModule,
  htmlModule,
  traceModule,
  jsonModule,
  summaryModule,
];

export class ReportSelectionError extends Error {}

/** "junit,html" "trace" → ["junit", "html", "trace"], without repeats. */
export function parseReportList(values: readonly string[]): string[] {
  const specs = values
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  return [...new Set(specs)];
}

function looksLikePath(spec: string): boolean {
  return spec.includes("/") || spec.includes("\\") || /\.[cm]?js$/.test(spec);
}

export async function resolveModules(
  specs: readonly string[],
  cwd: string,
): Promise<ReportModule[]> {
  const modules: ReportModule[] = [];
  for (const spec of specs) {
    if (!looksLikePath(spec)) {
      const builtin = BUILTIN_MODULES.find((m) => m.id === spec);
      if (builtin === undefined) {
        const known = BUILTIN_MODULES.map((m) => m.id).join(", ");
        throw new ReportSelectionError(
          `unknown report module "${spec}" (built-in: ${known}; a path such as ./my-module.js loads your own)`,
        );
      }
      modules.push(builtin);
      continue;
    }
    const file = resolve(cwd, spec);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (error) {
      throw new ReportSelectionError(`cannot load report module ${spec}: ${String(error)}`);
    }
    if (!isReportModule(loaded.default)) {
      throw new ReportSelectionError(
        `${spec} does not export a report module as its default export ` +
          "({ id, name, subscribes: [...], render(context) })",
      );
    }
    modules.push(loaded.default);
  }
  return modules;
}

export interface RenderResult {
  /** Files written, relative to the output directory (index.html last). */
  written: string[];
  failed: { id: string; name: string; error: string }[];
  /** Terminal text from the modules that rendered, in selection order. */
  terminal: string[];
}

function checkPath(path: string): void {
  if (path === "" || isAbsolute(path) || path.split(/[\\/]/).includes("..")) {
    throw new Error(`refuses to write outside the report directory: ${JSON.stringify(path)}`);
  }
  if (path === "index.html")
    throw new Error("index.html is the combined index; use a subdirectory");
}

function contextFor(
  run: LoadedRun,
  runDir: string,
  subscribes: readonly RecordFile[],
): ReportContext {
  const records: RecordsByFile = emptyRecords();
  for (const file of subscribes) (records[file] as unknown[]) = run.records[file];
  const tests = buildTests(records.results);
  return {
    runDir,
    manifest: run.manifest,
    records,
    tests,
    files: buildFiles(tests, records.collect),
  };
}

export async function renderReports(
  runDir: string,
  modules: readonly ReportModule[],
  outDir: string,
  warn: (message: string) => void,
): Promise<RenderResult> {
  const wanted = new Set<RecordFile>(
    modules.flatMap((m) => m.subscribes.filter((f) => RECORD_FILES.includes(f))),
  );
  const run = loadRun(runDir, wanted);
  if (run.manifestProblem !== undefined) warn(run.manifestProblem);
  for (const [file, n] of Object.entries(run.skippedLines)) {
    warn(
      `${join(runDir, `${file}.jsonl`)}: skipped ${n} unreadable line(s) (a run killed mid-write?)`,
    );
  }
  const result: RenderResult = { written: [], failed: [], terminal: [] };
  const rendered: RenderedModule[] = [];
  const claimed = new Set<string>();
  for (const module of modules) {
    try {
      const output: ReportOutput = await module.render(contextFor(run, runDir, module.subscribes));
      for (const file of output.files) {
        checkPath(file.path);
        if (claimed.has(file.path)) throw new Error(`another module already wrote ${file.path}`);
      }
      for (const file of output.files) {
        const target = join(outDir, file.path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, file.content);
        claimed.add(file.path);
        result.written.push(file.path);
      }
      if (output.terminal) result.terminal.push(output.terminal);
      rendered.push({ module, output });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      result.failed.push({ id: module.id, name: module.name, error: message });
      warn(`report module "${module.name}" (${module.id}) failed: ${message}`);
    }
  }
  const m = run.manifest;
  const title = `${runTitle(m)} · reports`;
  const subtitle = `run ${m.runId} · exit code ${m.exitCode}`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, "index.html"),
    renderIndexPage(title, subtitle, rendered, result.failed),
  );
  result.written.push("index.html");
  return result;
}

/** Where a run's reports go by default. */
export function defaultReportDir(runDir: string): string {
  return join(runDir, "reports");
}
