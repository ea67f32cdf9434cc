// The per-suite tables drawn from Kiln's run records: a per-phase profile of
// a cold run (medians over the counted rounds, ms after the bench spawned
// `kiln`) and the in-run micro-figures, pooled over the rounds.
import { COMMANDS } from "./commands.js";
import { markdownTable, mib } from "./format.js";
import { atDepth } from "./micro.js";
import type { RunResult } from "./run-command.js";
import { PHASES, type RunProfile } from "./run-profile.js";
import { median, percentile } from "./stats.js";
import type { CommandOutcome } from "./suite-runner.js";

/** Milliseconds at a precision that suits their size. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (Math.abs(value) < 1) return value.toFixed(2);
  if (Math.abs(value) < 10) return value.toFixed(1);
  return value.toFixed(0);
}

function profiled(
  outcomes: readonly CommandOutcome[],
): { label: string; profiles: RunProfile[] }[] {
  return outcomes
    .filter((o) => o.status === "ok" && COMMANDS.find((c) => c.label === o.label)?.kiln === true)
    .map((o) => ({
      label: o.label,
      profiles: o.runs.flatMap((r) => (r.profile === undefined ? [] : [r.profile])),
    }))
    .filter((p) => p.profiles.length > 0);
}

/** Medians of each phase: "412 (+35)", the time since spawn and since the phase before. */
export function phaseTable(outcomes: readonly CommandOutcome[]): string | undefined {
  const commands = profiled(outcomes);
  if (commands.length === 0) return undefined;
  const header = [
    "phase (ms after spawn; + since the phase before)",
    ...commands.map((c) => `\`${c.label}\``),
  ];
  const previous = new Map<string, number>();
  const rows = PHASES.map((phase) => [
    phase,
    ...commands.map((c) => {
      const values = c.profiles.flatMap((p) => {
        const v = p.phases[phase];
        return v === undefined ? [] : [v];
      });
      if (values.length === 0) return "–";
      const at = median(values);
      const before = previous.get(c.label);
      previous.set(c.label, at);
      if (before === undefined) return ms(at);
      const step = at - before;
      return `${ms(at)} (${step < 0 ? "−" : "+"}${ms(Math.abs(step))})`;
    }),
  ]);
  return markdownTable(header, rows);
}

/** Peak private memory of each forked worker, over every run that sampled it. */
export function workerUssKb(outcome: CommandOutcome): number[] {
  const runs: RunResult[] = [...(outcome.warmup ? [outcome.warmup] : []), ...outcome.runs];
  return runs.flatMap((run) =>
    atDepth(run, 2).flatMap((p) => (p.peakUssKb === undefined ? [] : [p.peakUssKb])),
  );
}

export interface MicroFigures {
  label: string;
  workers: number | undefined;
  tests: number;
  forkP50: number;
  forkP99: number;
  gapP50: number;
  gapP99: number;
  outsideShare: number;
  outsidePerTestMs: number;
  ussKb: number;
}

export function microFigures(outcome: CommandOutcome): MicroFigures | undefined {
  const profiles = outcome.runs.flatMap((r) => (r.profile === undefined ? [] : [r.profile]));
  if (profiles.length === 0) return undefined;
  const fork = profiles.flatMap((p) => p.forkToFirstTestMs);
  const gaps = profiles.flatMap((p) => p.betweenTestsMs);
  const perTest = profiles.flatMap((p) =>
    p.outsidePerTestMs === undefined ? [] : [p.outsidePerTestMs],
  );
  return {
    label: outcome.label,
    workers: median(profiles.flatMap((p) => (p.workers === undefined ? [] : [p.workers]))),
    tests: median(profiles.map((p) => p.tests)),
    forkP50: percentile(fork, 50),
    forkP99: percentile(fork, 99),
    gapP50: percentile(gaps, 50),
    gapP99: percentile(gaps, 99),
    outsideShare: median(profiles.flatMap((p) => p.outsideShare)),
    outsidePerTestMs: median(perTest),
    ussKb: median(workerUssKb(outcome)),
  };
}

export function microTable(outcomes: readonly CommandOutcome[]): string | undefined {
  const rows = outcomes
    .filter((o) => o.status === "ok" && COMMANDS.find((c) => c.label === o.label)?.kiln === true)
    .flatMap((o) => {
      const f = microFigures(o);
      return f === undefined ? [] : [f];
    })
    .map((f) => [
      `\`${f.label}\``,
      f.workers === undefined || !Number.isFinite(f.workers) ? "–" : String(f.workers),
      `${ms(f.forkP50)} / ${ms(f.forkP99)}`,
      `${ms(f.gapP50)} / ${ms(f.gapP99)}`,
      Number.isFinite(f.outsideShare) ? `${(f.outsideShare * 100).toFixed(0)}%` : "–",
      ms(f.outsidePerTestMs),
      mib(Number.isFinite(f.ussKb) ? f.ussKb : undefined),
    ]);
  if (rows.length === 0) return undefined;
  const header = [
    "command",
    "workers",
    "fork requested → 1st test ms p50 / p99",
    "between two tests ms p50 / p99",
    "worker life outside tests",
    "outside tests per test ms",
    "worker USS MiB",
  ];
  return markdownTable(header, rows);
}
