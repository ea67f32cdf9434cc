// A machine-readable summary of a run: the counts, and per test its outcome,
// duration, worker and phases. Stable key order and test order (the record's),
// so two renders of one run are byte-identical.
import type { ReportContext, ReportModule } from "./module.js";

export const SUMMARY_FORMAT_VERSION = 1;

export function renderJsonSummary(context: ReportContext): string {
  const m = context.manifest;
  const summary = {
    format: "kiln-summary",
    formatVersion: SUMMARY_FORMAT_VERSION,
    runId: m.runId,
    exitCode: m.exitCode,
    complete: m.complete,
    startedAt: new Date(m.startedAt).toISOString(),
    durationSeconds: Math.max(0, m.finishedAt - m.startedAt) / 1000,
    python: m.python?.version ?? null,
    pytest: m.pytestVersion,
    workers: m.workers,
    counts: m.outcomes,
    collection: m.collection,
    collectErrors: context.records.collect.flatMap((r) =>
      r.type === "error" ? [{ nodeid: r.nodeid, longrepr: r.longreprtext }] : [],
    ),
    tests: context.tests.map((test) => ({
      nodeid: test.nodeid,
      outcome: test.outcome,
      status: test.status,
      crashed: test.crashed,
      duration: test.duration,
      workerId: test.workerId,
      phases: test.phases.map((p) => ({ when: p.when, outcome: p.outcome, duration: p.duration })),
    })),
  };
  return `${JSON.stringify(summary, null, 2)}\n`;
}

export const jsonModule: ReportModule = {
  id: "json",
  name: "JSON summary",
  subscribes: ["collect", "results"],
  render(context) {
    return {
      files: [{ path: "summary.json", content: renderJsonSummary(context) }],
      index: [{ title: "JSON summary", html: '<p><a href="summary.json">summary.json</a></p>' }],
    };
  },
};
