// The raw figures of a run, as JSON under bench/results/, for comparing runs
// later. Per-process samples are folded into per-depth summaries.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.js";
import { RESULTS_DIR } from "./paths.js";
import type { RunResult } from "./run-command.js";
import { percentile } from "./stats.js";
import type { CommandOutcome } from "./suite-runner.js";

export interface SuiteRecord {
  name: string;
  title: string;
  dir: string;
  rounds: number;
  warmup: boolean;
  commands: readonly CommandOutcome[];
  collectOnly: readonly CommandOutcome[];
}

export interface BenchRecord {
  startedAt: string;
  durationS: number;
  quick: boolean;
  machine: Machine;
  droppedEnv: readonly string[];
  loadAverage: { before: string; after: string };
  suites: readonly SuiteRecord[];
}

function compactRun(run: RunResult) {
  const depths = new Map<number, RunResult["tree"]["processes"]>();
  for (const p of run.tree.processes) depths.set(p.depth, [...(depths.get(p.depth) ?? []), p]);
  return {
    wallMs: Math.round(run.wallMs * 10) / 10,
    exitCode: run.exitCode,
    signal: run.signal,
    timedOut: run.timedOut,
    summary: run.summary,
    peakRssKb: run.tree.peakRssKb,
    cpuSeconds: run.tree.cpuSeconds,
    samples: run.tree.samples,
    // Kiln's run record, folded: the gaps between tests as percentiles, not one per test.
    profile: run.profile && {
      workers: run.profile.workers,
      tests: run.profile.tests,
      phasesMs: run.profile.phases,
      forkToFirstTestMs: run.profile.forkToFirstTestMs,
      betweenTestsMs: {
        p50: percentile(run.profile.betweenTestsMs, 50),
        p99: percentile(run.profile.betweenTestsMs, 99),
      },
      outsideShare: run.profile.outsideShare,
      outsidePerTestMs: run.profile.outsidePerTestMs,
    },
    byDepth: [...depths].map(([depth, list]) => ({
      depth,
      processes: list.length,
      names: [...new Set(list.map((p) => p.name))],
      peakRssKb: list.map((p) => p.peakRssKb),
      peakUssKb: list.flatMap((p) => (p.peakUssKb === undefined ? [] : [p.peakUssKb])),
      firstSeenMs: Math.min(...list.map((p) => p.firstSeenMs)),
    })),
  };
}

function compactOutcome(outcome: CommandOutcome) {
  return {
    label: outcome.label,
    status: outcome.status,
    note: outcome.note,
    warmup: outcome.warmup ? compactRun(outcome.warmup) : undefined,
    runs: outcome.runs.map(compactRun),
    failureOutput: outcome.failure?.outputTail,
  };
}

/** Returns the path written. */
export function writeResults(record: BenchRecord): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = record.startedAt.replace(/[:.]/g, "-");
  const file = join(RESULTS_DIR, `${record.quick ? "quick-" : ""}${stamp}.json`);
  const json = {
    ...record,
    suites: record.suites.map((suite) => ({
      ...suite,
      commands: suite.commands.map(compactOutcome),
      collectOnly: suite.collectOnly.map(compactOutcome),
    })),
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}
