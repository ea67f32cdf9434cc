// Merging shard records into one run (events/merge-runs.ts): the union of
// the shards' items, each test's phases once, one lifecycle, one exit code.
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../../src/events/manifest.js";
import { foldManifest } from "../../../src/events/manifest-fold.js";
import { type MergeInput, mergeExitCodes, mergeRuns } from "../../../src/events/merge-runs.js";
import type { RecordsByFile, ResultRecord } from "../../../src/events/records.js";

function phase(nodeid: string, outcome: ResultRecord["outcome"], duration: number): ResultRecord {
  return {
    nodeid,
    workerId: 1,
    at: 10,
    when: "call",
    outcome,
    duration,
    wasxfail: false,
  } as ResultRecord;
}

function shard(
  dir: string,
  items: string[],
  deselected: number,
  results: ResultRecord[],
  exitCode: number,
  at: number,
): MergeInput {
  const records: RecordsByFile = {
    collect: [
      {
        type: "collection",
        at,
        rootdir: "/p",
        items: items.length,
        errors: 1,
        skipped: 0,
        deselected,
      },
      { type: "error", nodeid: "test_broken.py", longreprtext: "ImportError" },
      ...items.map((nodeid) => ({ type: "item" as const, nodeid, location: [] })),
    ],
    results,
    workers: [
      {
        event: "run:started",
        at,
        runId: dir,
        argv: ["test", "--shard", dir],
        cwd: "/p",
        kilnVersion: "0",
        python: "py",
        workers: 2,
        dist: "module",
        timeout: null,
        hostname: "h",
        utcOffsetMinutes: 0,
      },
      { event: "worker:spawn-requested", at: at + 1, workerId: 1 },
      { event: "session:finished", at: at + 5, exitCode, seconds: at / 10 },
      { event: "run:finished", at: at + 6, exitCode },
    ],
    cache: [],
    modules: [],
    imports: [],
  };
  return { dir, manifest: { exitCode, complete: true } as Manifest, records };
}

const context = { runId: "merged", argv: ["report", "--merge"], cwd: "/p" };

describe("mergeRuns", () => {
  const one = shard(
    "s1",
    ["a", "b"],
    3,
    [phase("a", "passed", 1), phase("b", "failed", 2)],
    1,
    100,
  );
  const two = shard("s2", ["c", "d", "e"], 2, [phase("c", "passed", 0.5)], 0, 50);

  it("joins the shards' items, results and lifecycle into one run", () => {
    const merged = mergeRuns([one, two], context);
    const manifest = foldManifest(merged.records, {
      runId: "x",
      kilnVersion: "0",
      cwd: "/p",
      hostname: "h",
      utcOffsetMinutes: 0,
      bytes: {},
    });
    // 5 collected before any deselection, all in some shard: none deselected by pytest.
    expect(manifest.collection).toEqual({ items: 5, errors: 1, skipped: 0, deselected: 0 });
    expect(manifest.outcomes.passed).toBe(2);
    expect(manifest.outcomes.failed).toBe(1);
    // The collection error happened in both shards: counted once.
    expect(manifest.outcomes.error).toBe(1);
    expect(manifest.exitCode).toBe(1);
    expect(manifest.complete).toBe(true);
    expect(manifest.workers).toBe(4);
    expect(manifest.workersStarted).toBe(2);
    expect(manifest.startedAt).toBe(50);
    expect(manifest.finishedAt).toBe(106);
    expect(manifest.pytestSeconds).toBe(10);
    expect(manifest.runId).toBe("merged");
    expect(manifest.argv).toEqual(["report", "--merge"]);
    expect(merged.durations).toEqual(
      new Map([
        ["a", 1],
        ["b", 2],
        ["c", 0.5],
      ]),
    );
    expect(merged.warnings).toEqual([]);
  });

  it("counts what pytest itself deselected (-k) once", () => {
    // 6 collected; shard 1 kept 2 of them, shard 2 kept 3: one was -k'd away.
    const a = shard("s1", ["a", "b"], 4, [], 0, 1);
    const b = shard("s2", ["c", "d", "e"], 3, [], 0, 2);
    const merged = mergeRuns([a, b], context);
    expect(merged.records.collect[0]).toMatchObject({ items: 5, deselected: 1 });
  });

  it("counts a test that ran in two shards once, and says so", () => {
    const again = shard("s3", ["a"], 4, [phase("a", "failed", 9)], 1, 200);
    const merged = mergeRuns([one, again], context);
    expect(merged.records.results.filter((r) => r.nodeid === "a")).toEqual([
      phase("a", "passed", 1),
    ]);
    expect(merged.durations.get("a")).toBe(1);
    expect(merged.warnings.join()).toMatch(/1 test\(s\) ran in more than one run \(a\)/);
  });

  it("warns about a shard that did not reach its end, and fails the merge with its code", () => {
    const dead = shard("s4", ["z"], 0, [], 2, 300);
    dead.manifest = { exitCode: 2, complete: false } as Manifest;
    const merged = mergeRuns([one, dead], context);
    expect(merged.exitCode).toBe(2);
    expect(merged.warnings.join()).toMatch(/s4 did not reach its end/);
  });
});

describe("mergeExitCodes", () => {
  it.each([
    [[0, 0], 0],
    [[0, 1], 1],
    [[0, 5], 0],
    [[5, 5], 5],
    [[1, 2, 3], 2],
    [[4, 1], 4],
  ])("%j → %i", (codes, expected) => {
    expect(mergeExitCodes(codes)).toBe(expected);
  });
});
