// Pure comparison of two runs' outcomes: the baseline (plain pytest) and Kiln.
// An outcome is what kiln_harness/outcome_recorder.py writes for a nodeid:
// passed, failed, skipped, xfailed, xpassed, error, <outcome>+error,
// collect-error. The recorded texts (failure text, collection errors,
// warnings summary) are compared by texts.ts.

import {
  compareTexts,
  describeTextDifference,
  type NormalizeOptions,
  parseTexts,
  type RunTexts,
  type TextDifference,
} from "./texts.js";

export type OutcomeMap = Readonly<Record<string, string>>;

export interface RunOutcomes {
  /** The process's exit code (null when it was killed by a signal). */
  exitCode: number | null;
  outcomes: OutcomeMap;
  /** The recorded texts; undefined for an expected/*.json, which keeps outcomes only. */
  texts?: RunTexts | undefined;
}

export type Difference =
  | { kind: "outcome"; nodeid: string; pytest: string; kiln: string }
  | { kind: "missing-in-kiln"; nodeid: string; pytest: string }
  | { kind: "missing-in-pytest"; nodeid: string; kiln: string }
  | { kind: "exit-code"; pytest: number | null; kiln: number | null }
  | TextDifference;

/**
 * Every difference between the baseline and Kiln: the exit code first, then
 * nodeids in sorted order (so output is stable whatever the run order was),
 * then the texts when both sides recorded them.
 */
export function compareRuns(
  pytest: RunOutcomes,
  kiln: RunOutcomes,
  options: NormalizeOptions = {},
): Difference[] {
  const diffs: Difference[] = [];
  if (pytest.exitCode !== kiln.exitCode) {
    diffs.push({ kind: "exit-code", pytest: pytest.exitCode, kiln: kiln.exitCode });
  }
  diffs.push(...compareOutcomes(pytest.outcomes, kiln.outcomes));
  if (pytest.texts && kiln.texts) diffs.push(...compareTexts(pytest.texts, kiln.texts, options));
  return diffs;
}

export function compareOutcomes(pytest: OutcomeMap, kiln: OutcomeMap): Difference[] {
  const diffs: Difference[] = [];
  const nodeids = new Set([...Object.keys(pytest), ...Object.keys(kiln)]);
  for (const nodeid of [...nodeids].sort(compareStrings)) {
    const p = own(pytest, nodeid);
    const k = own(kiln, nodeid);
    if (p !== undefined && k !== undefined) {
      if (p !== k) diffs.push({ kind: "outcome", nodeid, pytest: p, kiln: k });
    } else if (p !== undefined) {
      diffs.push({ kind: "missing-in-kiln", nodeid, pytest: p });
    } else if (k !== undefined) {
      diffs.push({ kind: "missing-in-pytest", nodeid, kiln: k });
    }
  }
  return diffs;
}

/** Names for the two sides in messages; the defaults are the baseline and Kiln. */
export interface SideLabels {
  pytest: string;
  kiln: string;
}

const DEFAULT_LABELS: SideLabels = { pytest: "pytest", kiln: "kiln" };

/** One line, or for a text difference a header line and where the texts part. */
export function formatDifference(diff: Difference, labels: SideLabels = DEFAULT_LABELS): string {
  const { pytest: p, kiln: k } = labels;
  const block = (title: string, a: string | undefined, b: string | undefined) =>
    [title, ...describeTextDifference(a, b, labels).map((line) => `  ${line}`)].join("\n");
  switch (diff.kind) {
    case "failure-text":
      return block(`${diff.nodeid} [${diff.phase}]: failure text differs`, diff.pytest, diff.kiln);
    case "collect-error-text":
      return block(`${diff.nodeid}: collection error text differs`, diff.pytest, diff.kiln);
    case "conftest-error":
      return block("conftest import error text differs", diff.pytest, diff.kiln);
    case "warnings": {
      const entry = (side: string, text: string) =>
        `  only ${side}: ${text.trimEnd().split("\n").join("\n    ")}`;
      return [
        "warnings summary differs",
        ...diff.onlyPytest.map((t) => entry(p, t)),
        ...diff.onlyKiln.map((t) => entry(k, t)),
      ].join("\n");
    }
    case "outcome":
      return `${diff.nodeid}: ${p}=${diff.pytest} ${k}=${diff.kiln}`;
    case "missing-in-kiln":
      return `${diff.nodeid}: ${p}=${diff.pytest} ${k}=(missing)`;
    case "missing-in-pytest":
      return `${diff.nodeid}: ${p}=(missing) ${k}=${diff.kiln}`;
    case "exit-code":
      return `exit code: ${p}=${formatExit(diff.pytest)} ${k}=${formatExit(diff.kiln)}`;
  }
}

/** "3 passed, 1 failed"-style counts, sorted by outcome name. */
export function countOutcomes(outcomes: OutcomeMap): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of Object.values(outcomes)) {
    counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}

export function formatCounts(outcomes: OutcomeMap): string {
  const counts = countOutcomes(outcomes);
  const parts = Object.keys(counts)
    .sort(compareStrings)
    .map((name) => `${counts[name]} ${name}`);
  return parts.length > 0 ? parts.join(", ") : "no tests";
}

/**
 * Parse what the outcome recorder wrote; throws with a clear message when the
 * shape is wrong (never trusts the file blindly).
 */
export function parseOutcomesFile(text: string): {
  exitCode: number;
  outcomes: OutcomeMap;
  texts: RunTexts | undefined;
} {
  const data: unknown = JSON.parse(text);
  if (!isRecord(data)) throw new Error("outcomes file is not a JSON object");
  const exitCode = data.exit_code;
  if (typeof exitCode !== "number" || !Number.isInteger(exitCode)) {
    throw new Error("outcomes file has no integer exit_code");
  }
  const raw = data.outcomes;
  if (!isRecord(raw)) throw new Error("outcomes file has no outcomes object");
  const outcomes: Record<string, string> = {};
  for (const [nodeid, value] of Object.entries(raw)) {
    if (typeof value !== "string") {
      throw new Error(`outcome of ${JSON.stringify(nodeid)} is not a string`);
    }
    outcomes[nodeid] = value;
  }
  return { exitCode, outcomes, texts: parseTexts(data) };
}

function own(map: OutcomeMap, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function formatExit(code: number | null): string {
  return code === null ? "(killed)" : String(code);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
