// `kiln report --merge RUN_DIR... [--out DIR]`: the runs of a sharded suite
// (`kiln test --shard I/N` on N machines) joined into one run record
// (events/merge-runs.ts), its reports rendered as for any run, and the
// merged durations written for the next sharded run to split by.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join, resolve } from "node:path";
import { saveDurations, writeDurationsFile } from "../events/durations-store.js";
import { writeManifest } from "../events/manifest.js";
import { foldManifest } from "../events/manifest-fold.js";
import { mergeRuns } from "../events/merge-runs.js";
import { RECORD_FILES, type RecordFile, recordFileName } from "../events/records.js";
import { createRunDir, markLatest, newRunId, resolveRunDir } from "../events/run-dir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { loadRun } from "../reports/run-data.js";
import { writeRunReports } from "./report-command.js";
import { KILN_VERSION } from "./version.js";

export interface MergeRequest {
  runs: string[];
  /** The merged run's directory; undefined: a new run of the project in the working directory. */
  out: string | undefined;
  /** Report modules to render into <merged>/reports. */
  reports: readonly string[];
  cwd: string;
  argv: string[];
}

/**
 * Returns the merged run's exit code (a shard's failure fails the merge
 * step, as it would fail a single run), or USAGE_ERROR for bad input.
 */
export async function mergeAction(request: MergeRequest): Promise<number> {
  const error = (message: string) => {
    process.stderr.write(`kiln: error: ${message}\n`);
    return ExitCode.USAGE_ERROR;
  };
  const inputs = [];
  const seen = new Set<string>();
  for (const given of request.runs) {
    let dir: string;
    try {
      dir = resolveRunDir(given);
    } catch (problem) {
      return error(`--merge: ${(problem as Error).message}`);
    }
    if (seen.has(dir)) return error(`--merge: ${given} is given twice (${dir})`);
    seen.add(dir);
    try {
      const loaded = loadRun(dir);
      if (loaded.manifestProblem)
        process.stderr.write(`kiln: warning: ${loaded.manifestProblem}\n`);
      inputs.push({ dir, manifest: loaded.manifest, records: loaded.records });
    } catch (problem) {
      return error(`--merge: cannot read ${dir}: ${(problem as Error).message}`);
    }
  }
  const runId = newRunId();
  let out: string;
  if (request.out !== undefined) {
    out = resolve(request.cwd, request.out);
    if (existsSync(out) && readdirSync(out).length > 0) {
      return error(`--out ${request.out} exists and is not empty; give a new directory`);
    }
    if (seen.has(out)) return error(`--out ${request.out} is one of the runs being merged`);
    mkdirSync(out, { recursive: true });
  } else {
    out = createRunDir(request.cwd, runId);
  }
  const merged = mergeRuns(inputs, {
    runId: request.out === undefined ? runId : basename(out),
    argv: request.argv,
    cwd: request.cwd,
  });
  for (const warning of merged.warnings) process.stderr.write(`kiln: warning: ${warning}\n`);
  const bytes: Partial<Record<RecordFile, number>> = {};
  for (const file of RECORD_FILES) {
    const text = merged.records[file].map((record) => `${JSON.stringify(record)}\n`).join("");
    writeFileSync(join(out, recordFileName(file)), text);
    bytes[file] = Buffer.byteLength(text);
  }
  const now = Date.now();
  writeManifest(
    out,
    foldManifest(merged.records, {
      runId,
      kilnVersion: KILN_VERSION,
      cwd: request.cwd,
      hostname: hostname(),
      utcOffsetMinutes: -new Date(now).getTimezoneOffset(),
      exitCode: merged.exitCode,
      bytes,
    }),
  );
  await writeDurationsFile(join(out, "durations.json"), merged.durations);
  if (request.out === undefined) {
    markLatest(request.cwd, runId);
    // Merged into the project: its next sharded run splits by these.
    await saveDurations(request.cwd, merged.durations);
  }
  process.stderr.write(
    `kiln: merged ${inputs.length} runs into ${out} (durations of ${merged.durations.size} tests ` +
      `in ${join(out, "durations.json")}${request.out === undefined ? " and .kiln/durations.json" : ""})\n`,
  );
  const rendered = await writeRunReports(out, request.reports, undefined, { printTerminal: true });
  return rendered === ExitCode.OK ? merged.exitCode : rendered;
}
