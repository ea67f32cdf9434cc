// Figures about Kiln itself, measured from the outside so they work on any
// build (without Kiln's own event files): how long until it has collected and
// forked its first worker, and what each of its processes costs in memory,
// next to pytest's.
import { type BenchCommand, COMMANDS } from "./commands.js";
import { markdownTable, mib, seconds } from "./format.js";
import type { SuiteRecord } from "./results.js";
import type { RunResult } from "./run-command.js";
import type { ProcessFigures } from "./sampler.js";
import { median } from "./stats.js";
import type { CommandOutcome } from "./suite-runner.js";

/** `pytest` and `kiln -n 1` with --collect-only: start-up plus collection, no test runs. */
export function collectOnlyCommands(): BenchCommand[] {
  const wanted = ["pytest", "kiln -n 1"];
  return COMMANDS.filter((c) => wanted.includes(c.label)).map((c) => ({
    ...c,
    label: `${c.label} --collect-only`,
    argv: (python: string, extra: readonly string[] = []) => [
      ...c.argv(python, extra),
      "--collect-only",
    ],
  }));
}

function medianWall(outcomes: readonly CommandOutcome[], label: string): number {
  const outcome = outcomes.find((o) => o.label === label && o.status === "ok");
  return outcome ? median(outcome.runs.map((r) => r.wallMs)) : Number.NaN;
}

/**
 * The processes of a run at `depth`, without helper programs: below the
 * command's children only forks (named like their parent) count, so the
 * /sbin/ldconfig that ctypes runs inside Kiln's zygote is not a worker.
 */
export function atDepth(run: RunResult, depth: number): ProcessFigures[] {
  const names = new Map(run.tree.processes.map((p) => [p.pid, p.name]));
  return run.tree.processes.filter(
    (p) => p.depth === depth && (depth <= 1 || names.get(p.ppid) === p.name),
  );
}

/** When the first process at `depth` appeared: for Kiln, its first forked worker. */
function firstAtDepth(run: RunResult, depth: number): number {
  const times = atDepth(run, depth).map((p) => p.firstSeenMs);
  return times.length > 0 ? Math.min(...times) : Number.NaN;
}

function medianFirstWorker(outcomes: readonly CommandOutcome[], label: string): number {
  const outcome = outcomes.find((o) => o.label === label && o.status === "ok");
  if (outcome === undefined) return Number.NaN;
  return median(outcome.runs.map((r) => firstAtDepth(r, 2)).filter(Number.isFinite));
}

export function startupTable(suites: readonly SuiteRecord[]): string {
  const header = [
    "suite",
    "`pytest --collect-only` s",
    "`kiln -n 1 --collect-only` s",
    "kiln − pytest s",
    "`kiln -n 1`: 1st worker at s",
    "`kiln -n 2`: 1st worker at s",
  ];
  const body = suites.map((suite) => {
    const pytest = medianWall(suite.collectOnly, "pytest --collect-only");
    const kiln = medianWall(suite.collectOnly, "kiln -n 1 --collect-only");
    return [
      suite.name,
      seconds(pytest),
      seconds(kiln),
      Number.isFinite(pytest - kiln) ? (kiln / 1000 - pytest / 1000).toFixed(2) : "–",
      seconds(medianFirstWorker(suite.commands, "kiln -n 1")),
      seconds(medianFirstWorker(suite.commands, "kiln -n 2")),
    ];
  });
  return markdownTable(header, body);
}

/** Per command and process role: how many, peak RSS and peak private memory (USS) each. */
export function memoryTable(outcomes: readonly CommandOutcome[]): string {
  const header = ["command", "process", "count", "peak RSS MiB each", "peak USS MiB each"];
  const body: string[][] = [];
  for (const outcome of outcomes) {
    const command = COMMANDS.find((c) => c.label === outcome.label);
    if (command === undefined || outcome.status !== "ok" || outcome.runs.length === 0) continue;
    command.roles.forEach((role, depth) => {
      const perRun = outcome.runs.map((run) => atDepth(run, depth));
      const counts = perRun.map((list) => list.length);
      if (median(counts) === 0) return;
      const rss = perRun.flat().map((p) => p.peakRssKb);
      const uss = perRun.flat().flatMap((p) => (p.peakUssKb === undefined ? [] : [p.peakUssKb]));
      const range = (values: number[]) =>
        values.length === 0 ? "–" : `${mib(median(values))} (max ${mib(Math.max(...values))})`;
      body.push([`\`${outcome.label}\``, role, String(median(counts)), range(rss), range(uss)]);
    });
  }
  return markdownTable(header, body);
}
