// Tests and test files assembled from a run's records: what most report
// modules want instead of raw phase lines. Pure functions of the records, so
// every module (and every re-render) sees the same model.
import {
  type Category,
  categorize,
  emptyCounts,
  fileOfNodeid,
  type Status,
  statusOfCategory,
  worstStatus,
} from "../events/outcomes.js";
import type { CollectRecord, ResultRecord } from "../events/records.js";
import type { TestCase, TestFile } from "./module.js";

const HEADLINE_RANK: Record<Category, number> = {
  skipped: 0,
  xfailed: 1,
  passed: 2,
  xpassed: 3,
  failed: 4,
  error: 5,
};

/** Groups phase records by test, in the order tests first appear. */
export function buildTests(results: readonly ResultRecord[]): TestCase[] {
  const byId = new Map<string, ResultRecord[]>();
  for (const record of results) {
    const phases = byId.get(record.nodeid);
    if (phases) phases.push(record);
    else byId.set(record.nodeid, [record]);
  }
  return [...byId].map(([nodeid, phases]) => toTestCase(nodeid, phases));
}

function toTestCase(nodeid: string, phases: ResultRecord[]): TestCase {
  let outcome: Category | undefined;
  let callOutcome: Category | undefined;
  const statuses: Status[] = [];
  let duration = 0;
  let crashed = false;
  for (const phase of phases) {
    duration += phase.duration;
    if (phase.crashed) crashed = true;
    const category = categorize(phase);
    if (category === undefined) continue;
    statuses.push(statusOfCategory(category));
    if (phase.when === "call") callOutcome = category;
    if (outcome === undefined || HEADLINE_RANK[category] > HEADLINE_RANK[outcome]) {
      outcome = category;
    }
  }
  // A test that failed in call and errored in teardown reads "failed", as in
  // pytest's short summary; only a crash turns a status into "error".
  const headline = callOutcome ?? outcome ?? "passed";
  const status = crashed ? "error" : worstStatus(statuses.length ? statuses : ["passed"]);
  const last = phases[phases.length - 1];
  return {
    nodeid,
    file: fileOfNodeid(nodeid),
    workerId: last?.workerId ?? 0,
    phases,
    outcome: headline,
    status,
    crashed,
    duration,
  };
}

/** Test files (sorted by path) with their tests and collection problems. */
export function buildFiles(
  tests: readonly TestCase[],
  collect: readonly CollectRecord[],
): TestFile[] {
  const files = new Map<string, TestFile>();
  const fileFor = (path: string): TestFile => {
    let file = files.get(path);
    if (file === undefined) {
      file = {
        path,
        tests: [],
        collectErrors: [],
        collectSkips: [],
        counts: emptyCounts(),
        status: "skipped",
      };
      files.set(path, file);
    }
    return file;
  };
  for (const record of collect) {
    if (record.type === "error") {
      const file = fileFor(fileOfNodeid(record.nodeid));
      file.collectErrors.push(record);
      file.counts.error++;
    } else if (record.type === "skipped") {
      const file = fileFor(fileOfNodeid(record.nodeid));
      file.collectSkips.push(record);
      file.counts.skipped++;
    }
  }
  for (const test of tests) {
    const file = fileFor(test.file);
    file.tests.push(test);
    for (const phase of test.phases) {
      const category = categorize(phase);
      if (category !== undefined) file.counts[category]++;
    }
  }
  for (const file of files.values()) {
    const statuses: Status[] = file.tests.map((t) => t.status);
    if (file.collectErrors.length > 0) statuses.push("error");
    file.status = worstStatus(statuses);
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Each phase's [start, stop] in epoch ms: pytest's (or the worker's) stamps;
 * for a phase without them (a crash), laid out back to back, ending when the
 * supervisor received it.
 */
export function phaseSpans(phases: readonly ResultRecord[]): [number, number][] {
  const spans: [number, number][] = [];
  for (let i = phases.length - 1; i >= 0; i--) {
    const phase = phases[i] as ResultRecord;
    if (phase.start !== undefined && phase.stop !== undefined) {
      spans[i] = [phase.start * 1000, phase.stop * 1000];
      continue;
    }
    const next = spans[i + 1];
    const stop = next !== undefined ? Math.min(next[0], phase.at) : phase.at;
    spans[i] = [stop - phase.duration * 1000, stop];
  }
  return spans;
}

/** A test's [start, stop] in epoch ms, from its phases. */
export function testSpan(test: TestCase): [number, number] {
  const spans = phaseSpans(test.phases);
  return [Math.min(...spans.map(([s]) => s)), Math.max(...spans.map(([, e]) => e))];
}
