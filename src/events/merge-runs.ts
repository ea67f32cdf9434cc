// `kiln report --merge`: the records of several runs (the shards of one
// suite, `kiln test --shard I/N` on N machines) as the records of one run,
// so every report module, the manifest fold and the durations file see one
// run. Pure: reading and writing the directories is cli/report-merge.ts's.
// The precedent is ci-queue's separate report step and pytest-split's
// hand-merged durations; here the merged record is an ordinary run record.
import type { Manifest } from "./manifest.js";
import type { CollectRecord, RecordsByFile, ResultRecord, WorkerRecord } from "./records.js";

export interface MergeInput {
  /** Where the run was read from, for warnings. */
  dir: string;
  manifest: Manifest;
  records: RecordsByFile;
}

export interface MergedRuns {
  records: RecordsByFile;
  exitCode: number;
  /** Per test, the sum of its phases' durations (as a run records them, run-machine.ts). */
  durations: Map<string, number>;
  warnings: string[];
}

export interface MergeContext {
  runId: string;
  argv: string[];
  cwd: string;
}

/**
 * One exit code for the runs: a status beyond "tests failed" (interrupted,
 * internal or usage error) wins, the first one given; else failed if any
 * failed; else OK if any ran tests; else pytest's "no tests collected" (5),
 * since a shard with nothing to run is normal when there are few tests.
 */
export function mergeExitCodes(codes: readonly number[]): number {
  const serious = codes.find((code) => code !== 0 && code !== 1 && code !== 5);
  if (serious !== undefined) return serious;
  if (codes.includes(1)) return 1;
  if (codes.includes(0)) return 0;
  return 5;
}

type Collection = Extract<CollectRecord, { type: "collection" }>;
type Started = Extract<WorkerRecord, { event: "run:started" }>;

export function mergeRuns(runs: readonly MergeInput[], context: MergeContext): MergedRuns {
  if (runs.length === 0) throw new Error("this is a bug in kiln: mergeRuns with no runs");
  const warnings: string[] = [];
  const records: RecordsByFile = {
    collect: [],
    results: [],
    workers: [],
    cache: [],
    modules: [],
    imports: [],
  };

  // Collection: every shard collected the same suite and deselected the
  // other shards' items; the union of their items is the suite. Errors and
  // module-level skips happen in every shard: kept once.
  const items = new Map<string, Extract<CollectRecord, { type: "item" }>>();
  const errors = new Map<string, Extract<CollectRecord, { type: "error" }>>();
  const skipped = new Map<string, Extract<CollectRecord, { type: "skipped" }>>();
  let first: Collection | undefined;
  let collectedBeforeDeselection = 0;
  for (const run of runs) {
    for (const record of run.records.collect) {
      if (record.type === "collection") {
        first ??= record;
        collectedBeforeDeselection = Math.max(
          collectedBeforeDeselection,
          record.items + record.deselected,
        );
      } else if (record.type === "item" && !items.has(record.nodeid)) {
        items.set(record.nodeid, record);
      } else if (record.type === "error" && !errors.has(record.nodeid)) {
        errors.set(record.nodeid, record);
      } else if (record.type === "skipped" && !skipped.has(record.nodeid)) {
        skipped.set(record.nodeid, record);
      }
    }
  }
  if (first !== undefined) {
    records.collect.push({
      type: "collection",
      at: first.at,
      rootdir: first.rootdir,
      items: items.size,
      errors: errors.size,
      skipped: skipped.size,
      // What pytest itself deselected (-k, -m): collected, but in no shard.
      deselected: Math.max(0, collectedBeforeDeselection - items.size),
    });
  }
  records.collect.push(...errors.values(), ...skipped.values(), ...items.values());

  // Results: each test's phases from the one run that ran it. A test in two
  // runs means the shards split differently (different durations files):
  // counted once, from the first run, and said.
  const ranIn = new Map<string, string>();
  const durations = new Map<string, number>();
  const duplicated = new Set<string>();
  for (const run of runs) {
    const here = new Set<string>();
    for (const record of run.records.results) {
      const owner = ranIn.get(record.nodeid);
      if (owner !== undefined && owner !== run.dir) {
        duplicated.add(record.nodeid);
        continue;
      }
      ranIn.set(record.nodeid, run.dir);
      here.add(record.nodeid);
      records.results.push(record satisfies ResultRecord);
      durations.set(record.nodeid, (durations.get(record.nodeid) ?? 0) + record.duration);
    }
  }
  if (duplicated.size > 0) {
    const some = [...duplicated].slice(0, 3).join(", ");
    warnings.push(
      `${duplicated.size} test(s) ran in more than one run (${some}${duplicated.size > 3 ? ", ..." : ""}); ` +
        "each is counted once, from the first run given. Shards split differently when they " +
        "read different .kiln/durations.json files: give every shard the same one",
    );
  }

  // Lifecycle: one run:started (the earliest start, the sum of workers), the
  // shards' zygote and worker events, one run:finished with the merged code.
  let started: Started | undefined;
  let workers = 0;
  let pytestSeconds: number | null = null;
  let finishedAt = 0;
  for (const run of runs) {
    for (const record of run.records.workers) {
      if (record.event === "run:started") {
        workers += record.workers;
        if (started === undefined || record.at < started.at) started = record;
      } else if (record.event === "run:finished") {
        finishedAt = Math.max(finishedAt, record.at);
      } else if (record.event === "session:finished") {
        // The slowest shard's session: the suite's wall time on N machines.
        if (record.seconds !== null) pytestSeconds = Math.max(pytestSeconds ?? 0, record.seconds);
      } else {
        records.workers.push(record);
      }
    }
    if (!run.manifest.complete) {
      warnings.push(`${run.dir} did not reach its end (exit code ${run.manifest.exitCode})`);
    }
    records.cache.push(...run.records.cache);
    records.modules.push(...run.records.modules);
    records.imports.push(...run.records.imports);
  }
  const exitCode = mergeExitCodes(runs.map((run) => run.manifest.exitCode));
  if (started !== undefined) {
    records.workers.unshift({
      ...started,
      runId: context.runId,
      argv: context.argv,
      cwd: context.cwd,
      workers,
    });
  }
  if (pytestSeconds !== null) {
    records.workers.push({
      event: "session:finished",
      at: finishedAt,
      exitCode,
      seconds: pytestSeconds,
    });
  }
  records.workers.push({ event: "run:finished", at: finishedAt, exitCode });
  return { records, exitCode, durations, warnings };
}
