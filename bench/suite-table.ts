// The markdown table of one suite: time, spread, CPU, memory, what pytest
// reported, and each command's median divided by every peer's median.
import { COMMANDS } from "./commands.js";
import { markdownTable, mib, ratio, seconds } from "./format.js";
import { max, median, min } from "./stats.js";
import type { CommandOutcome } from "./suite-runner.js";

export interface SuiteFigures {
  label: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  cpuSeconds: number;
  peakRssKb: number;
}

export function figures(outcome: CommandOutcome): SuiteFigures {
  const runs = outcome.runs;
  const wall = runs.map((r) => r.wallMs);
  return {
    label: outcome.label,
    medianMs: median(wall),
    minMs: min(wall),
    maxMs: max(wall),
    cpuSeconds: median(runs.map((r) => r.tree.cpuSeconds)),
    peakRssKb: median(runs.map((r) => r.tree.peakRssKb)),
  };
}

export function suiteTable(outcomes: readonly CommandOutcome[]): string {
  const timed = outcomes.filter((o) => o.status === "ok" && o.runs.length > 0).map(figures);
  // Ratio columns in the fixed command order, for the peers that were timed.
  const peers = COMMANDS.map((c) => timed.find((f) => f.label === c.label)).filter(
    (f): f is SuiteFigures => f !== undefined,
  );
  const header = [
    "command",
    "median s",
    "min–max s",
    "CPU s",
    "peak RSS MiB",
    "result",
    ...peers.map((p) => `vs ${p.label}`),
  ];
  const rows = outcomes.map((outcome) => {
    const f = timed.find((t) => t.label === outcome.label);
    if (f === undefined) {
      const why = outcome.note ?? "not run";
      return [`\`${outcome.label}\``, why, "–", "–", "–", "–", ...peers.map(() => "–")];
    }
    const summary = outcome.runs[0]?.summary ?? "?";
    return [
      `\`${f.label}\``,
      seconds(f.medianMs),
      `${seconds(f.minMs)}–${seconds(f.maxMs)}`,
      f.cpuSeconds.toFixed(1),
      mib(f.peakRssKb),
      summary,
      ...peers.map((p) => (p.label === f.label ? "—" : ratio(f.medianMs, p.medianMs))),
    ];
  });
  return markdownTable(header, rows);
}

/** The output of each failed command, after the table. */
export function failureDetails(outcomes: readonly CommandOutcome[]): string {
  const parts: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.status !== "failed" || outcome.failure === undefined) continue;
    parts.push(
      `\`${outcome.label}\` ${outcome.note ?? "failed"}; the end of its output:\n\n\`\`\`\n${outcome.failure.outputTail.trimEnd()}\n\`\`\``,
    );
  }
  return parts.join("\n\n");
}
