// The plain-text summary: pytest's final counts line and the slowest phases
// (as `--durations` prints them), from the record. `kiln report` prints it,
// so a past run's summary can be reprinted without rerunning anything.
import { countsLine } from "../events/outcomes.js";
import type { ResultRecord } from "../events/records.js";
import { fixed, pyCenter } from "./escape.js";
import type { ReportContext, ReportModule } from "./module.js";

export const SLOWEST_COUNT = 10;

/** pytest's format_session_duration. */
export function sessionDuration(seconds: number): string {
  if (seconds < 60) return `${fixed(seconds, 2)}s`;
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return `${fixed(seconds, 2)}s (${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")})`;
}

/** The N slowest phases, longest first; ties keep record order (a stable sort). */
export function slowestPhases(results: readonly ResultRecord[], n: number): ResultRecord[] {
  return [...results].sort((a, b) => b.duration - a.duration).slice(0, n);
}

export function renderSummary(context: ReportContext): string {
  const m = context.manifest;
  const lines: string[] = [];
  const slowest = slowestPhases(context.records.results, SLOWEST_COUNT);
  if (slowest.length > 0) {
    lines.push(pyCenter(` slowest ${SLOWEST_COUNT} durations `, 80, "="));
    for (const phase of slowest) {
      lines.push(`${fixed(phase.duration, 2)}s ${phase.when.padEnd(8)} ${phase.nodeid}`);
    }
  }
  // pytest's own figure when it printed one, so this line reads as pytest's did.
  const seconds = m.pytestSeconds ?? Math.max(0, m.finishedAt - m.startedAt) / 1000;
  lines.push(pyCenter(` ${countsLine(m.outcomes)} in ${sessionDuration(seconds)} `, 80, "="));
  lines.push(
    `run ${m.runId}: exit code ${m.exitCode}${m.complete ? "" : " (the run did not finish)"}`,
  );
  return `${lines.join("\n")}\n`;
}

export const summaryModule: ReportModule = {
  id: "summary",
  name: "Text summary",
  subscribes: ["results"],
  render(context) {
    const text = renderSummary(context);
    return {
      files: [{ path: "summary.txt", content: text }],
      terminal: text,
      index: [{ title: "Text summary", html: '<p><a href="summary.txt">summary.txt</a></p>' }],
    };
  },
};
