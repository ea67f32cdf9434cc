// The manifest fold (records in, manifest out), on records a run can leave:
// crashes, registry lookups and fallbacks, a run cut short.
import { describe, expect, it } from "vitest";
import { foldManifest, type ManifestContext } from "../../../src/events/manifest-fold.js";
import type { RecordsByFile, ResultRecord } from "../../../src/events/records.js";

const CONTEXT: ManifestContext = {
  runId: "from-context",
  kilnVersion: "0.0.0",
  cwd: "/p",
  hostname: "h",
  utcOffsetMinutes: 0,
  bytes: { results: 123 },
};

function phase(
  nodeid: string,
  when: ResultRecord["when"],
  outcome: ResultRecord["outcome"],
  extra: Partial<ResultRecord> = {},
): ResultRecord {
  return { nodeid, workerId: 1, at: 10, when, outcome, wasxfail: false, ...extra } as ResultRecord;
}

function records(): RecordsByFile {
  return {
    collect: [
      { type: "collection", at: 5, rootdir: "/p", items: 3, errors: 0, skipped: 0, deselected: 1 },
    ],
    results: [
      phase("test_a.py::ok", "call", "passed"),
      phase("test_a.py::seg", "call", "failed", { crashed: true }),
      phase("test_b.py::setup_exit", "setup", "failed", { crashed: true, at: 40 }),
    ],
    workers: [
      { event: "worker:spawn-requested", at: 6, workerId: 1 },
      { event: "worker:spawn-requested", at: 7, workerId: 2 },
    ],
    cache: [
      { type: "hit", module: "a", path: "/p/a.py", at: 1 },
      { type: "miss", module: "b", path: "/p/b.py", at: 1 },
      { type: "bypass", module: "c", path: "/p/c.py", at: 1 },
      { type: "served", at: 2, served: 1, fallbacks: 2, errors: [] } as never,
    ],
    modules: [],
    imports: [],
  };
}

describe("foldManifest", () => {
  it("counts a crash in call as failed and one in setup as an error, as pytest's categories do", () => {
    const manifest = foldManifest(records(), CONTEXT);
    expect(manifest.outcomes).toMatchObject({ passed: 1, failed: 1, error: 1, deselected: 1 });
    expect(manifest.perFile["test_b.py"]).toMatchObject({ error: 1 });
    expect(manifest.crashedTests).toBe(2);
    expect(manifest.workersStarted).toBe(2);
  });

  it("counts registry lookups, and the finder's fallbacks as bypasses", () => {
    expect(foldManifest(records(), CONTEXT).cache).toEqual({ hits: 1, misses: 1, bypasses: 3 });
  });

  it("counts lines itself and takes bytes from the context", () => {
    const files = foldManifest(records(), CONTEXT).files;
    expect(files.map((f) => [f.name, f.lines, f.bytes])).toEqual([
      ["collect.jsonl", 1, 0],
      ["results.jsonl", 3, 123],
      ["workers.jsonl", 2, 0],
      ["cache.jsonl", 4, 0],
      ["modules.jsonl", 0, 0],
      ["imports.jsonl", 0, 0],
    ]);
  });

  it("ends a run without run:finished as interrupted, at its last record", () => {
    const manifest = foldManifest(records(), CONTEXT);
    expect(manifest).toMatchObject({
      complete: false,
      exitCode: 2,
      runId: "from-context",
      startedAt: 40,
      finishedAt: 40,
    });
    // Live, the recorder knows the CLI's exit code and when it closed the record.
    expect(foldManifest(records(), { ...CONTEXT, exitCode: 1, closedAt: 99 })).toMatchObject({
      exitCode: 1,
      finishedAt: 99,
    });
  });
});
