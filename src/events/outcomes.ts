// pytest's outcome categories, computed from per-phase records exactly as
// pytest's own pytest_report_teststatus hooks do (runner.py, skipping.py), so
// a summary rendered from a run's record reads like pytest's final line.

export type Category = "passed" | "failed" | "error" | "skipped" | "xfailed" | "xpassed";

/** The order of pytest's final line (terminal.py KNOWN_TYPES). */
export const CATEGORY_ORDER = [
  "failed",
  "passed",
  "skipped",
  "deselected",
  "xfailed",
  "xpassed",
  "error",
] as const;

export type OutcomeCounts = Record<Category | "deselected", number>;

export function emptyCounts(): OutcomeCounts {
  return { passed: 0, failed: 0, error: 0, skipped: 0, xfailed: 0, xpassed: 0, deselected: 0 };
}

export interface PhaseLike {
  when: "setup" | "call" | "teardown";
  outcome: "passed" | "failed" | "skipped";
  wasxfail: boolean;
}

/** The category one phase report counts under, or undefined (a passing setup/teardown). */
export function categorize(phase: PhaseLike): Category | undefined {
  if (phase.wasxfail) {
    if (phase.outcome === "skipped") return "xfailed";
    if (phase.outcome === "passed") return "xpassed";
  }
  if (phase.outcome === "passed") return phase.when === "call" ? "passed" : undefined;
  if (phase.outcome === "failed") return phase.when === "call" ? "failed" : "error";
  return "skipped";
}

/**
 * A test's (or file's) status for directory listings: an error or crash
 * outranks a failure, which outranks a pass; all-skipped is "skipped".
 */
export type Status = "error" | "failed" | "passed" | "skipped";

const STATUS_RANK: Record<Status, number> = { skipped: 0, passed: 1, failed: 2, error: 3 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = "skipped";
  for (const status of statuses) if (STATUS_RANK[status] > STATUS_RANK[worst]) worst = status;
  return worst;
}

export function statusOfCategory(category: Category): Status {
  switch (category) {
    case "passed":
    case "xpassed":
      return "passed";
    case "failed":
      return "failed";
    case "error":
      return "error";
    case "skipped":
    case "xfailed":
      return "skipped";
  }
}

export const STATUS_SUFFIX: Record<Status, string> = {
  passed: "✅",
  failed: "❌",
  error: "❓",
  skipped: "⏭",
};

/** The test file part of a node id ("sub/test_x.py::TestA::test_b" → "sub/test_x.py"). */
export function fileOfNodeid(nodeid: string): string {
  const at = nodeid.indexOf("::");
  return at < 0 ? nodeid : nodeid.slice(0, at);
}

/** pytest's final-line wording: "2 failed, 5 passed, 1 error" (no " in Ns"). */
export function countsLine(counts: OutcomeCounts): string {
  const parts: string[] = [];
  for (const key of CATEGORY_ORDER) {
    const n = counts[key];
    if (n === 0) continue;
    const word = key === "error" && n !== 1 ? "errors" : key;
    parts.push(`${n} ${word}`);
  }
  return parts.length === 0 ? "no tests ran" : parts.join(", ");
}

/** Counts outcomes as they arrive, overall and per test file. */
export class OutcomeTally {
  readonly total = emptyCounts();
  readonly perFile = new Map<string, OutcomeCounts>();

  add(nodeid: string, category: Category | "deselected", n = 1): void {
    this.total[category] += n;
    const file = fileOfNodeid(nodeid);
    let counts = this.perFile.get(file);
    if (counts === undefined) {
      counts = emptyCounts();
      this.perFile.set(file, counts);
    }
    counts[category] += n;
  }

  addPhase(nodeid: string, phase: PhaseLike): void {
    const category = categorize(phase);
    if (category !== undefined) this.add(nodeid, category);
  }

  /** Per-file counts as a plain object with sorted keys, for the manifest. */
  perFileObject(): Record<string, OutcomeCounts> {
    const out: Record<string, OutcomeCounts> = {};
    for (const file of [...this.perFile.keys()].sort()) {
      const counts = this.perFile.get(file);
      if (counts) out[file] = counts;
    }
    return out;
  }
}
