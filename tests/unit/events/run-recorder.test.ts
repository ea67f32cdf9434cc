import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { readJsonl } from "../../../src/events/jsonl.js";
import type { Manifest } from "../../../src/events/manifest.js";
import {
  DEFAULT_KEEP_RUNS,
  KeepRunsError,
  keepRunsFromEnv,
  newRunId,
  pruneRuns,
  readLatest,
  resolveRunDir,
} from "../../../src/events/run-dir.js";
import type { RunEvent } from "../../../src/events/run-events.js";
import { RunRecorder } from "../../../src/events/run-recorder.js";
import { loadRun } from "../../../src/reports/run-data.js";
import { tempDir } from "../../helpers/temp.js";

const RUN_ID = "20250101-120000-000-abcd";

function recorder(cwd: string, warnings: string[] = []): RunRecorder {
  return new RunRecorder({
    runId: RUN_ID,
    cwd,
    kilnVersion: "9.9.9",
    keepRuns: 10,
    warn: (m) => warnings.push(m),
  });
}

const started: RunEvent = {
  event: "run:started",
  at: 1_000,
  runId: RUN_ID,
  argv: ["test", "-q"],
  cwd: "/somewhere",
  kilnVersion: "9.9.9",
  python: "/usr/bin/python3",
  workers: 2,
  dist: "module",
  timeout: null,
  hostname: "host",
  utcOffsetMinutes: 60,
};

function collected(rootdir: string): RunEvent {
  return {
    event: "collection:finished",
    at: 1_200,
    rootdir,
    items: [
      { nodeid: "test_a.py::test_ok", location: ["test_a.py", 1, "test_ok"] },
      { nodeid: "test_a.py::test_bad", location: ["test_a.py", 4, "test_bad"] },
    ],
    errors: [{ nodeid: "test_b.py", longreprtext: "SyntaxError" }],
    skipped: [],
    deselected: 3,
  };
}

function finished(nodeid: string, outcome: "passed" | "failed"): RunEvent {
  const out: [string, string] = ["Captured stdout call", "hello\n"];
  return {
    event: "test:finished",
    at: 1_300,
    workerId: 1,
    nodeid,
    location: [],
    reports: [
      { when: "setup", outcome: "passed", duration: 0.001, wasxfail: false },
      { when: "call", outcome, duration: 0.002, wasxfail: false, sections: [out] },
      // The worker sends each section once, in the phase that captured it.
      { when: "teardown", outcome: "passed", duration: 0.001, wasxfail: false },
    ],
  };
}

describe("RunRecorder", () => {
  it("holds events until pytest names the rootdir, then appends them there", () => {
    const root = tempDir("kiln-rec-");
    const rec = recorder(join(root, "cwd"));
    rec.emit(started);
    expect(existsSync(join(root, ".kiln"))).toBe(false);
    rec.emit(collected(root));
    const dir = join(root, ".kiln", "runs", RUN_ID);
    expect(rec.dir).toBe(dir);
    expect(readdirSync(dir).sort()).toEqual([
      "cache.jsonl",
      "collect.jsonl",
      "imports.jsonl",
      "modules.jsonl",
      "results.jsonl",
      "workers.jsonl",
    ]);
    expect(readLatest(join(root, ".kiln", "runs", "latest"))).toBe(dir);
    rec.emit(finished("test_a.py::test_ok", "passed"));
    rec.emit(finished("test_a.py::test_bad", "failed"));
    rec.emit({ event: "run:finished", at: 2_000, exitCode: 1 });
    expect(rec.finish(1)).toBe(dir);

    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
    expect(manifest).toMatchObject({
      runId: RUN_ID,
      exitCode: 1,
      complete: true,
      rootdir: root,
      startedAt: 1_000,
      finishedAt: 2_000,
      utcOffsetMinutes: 60,
      collection: { items: 2, errors: 1, skipped: 0, deselected: 3 },
      cache: { hits: 0, misses: 0, bypasses: 0 },
    });
    expect(manifest.outcomes).toMatchObject({ passed: 1, failed: 1, error: 1, deselected: 3 });
    expect(manifest.perFile["test_b.py"]?.error).toBe(1);
    expect(manifest.files.map((f) => [f.name, f.lines])).toEqual([
      ["collect.jsonl", 4],
      ["results.jsonl", 6],
      ["workers.jsonl", 2],
      ["cache.jsonl", 0],
      ["modules.jsonl", 0],
      ["imports.jsonl", 0],
    ]);
    // The teardown report repeats the call's output in pytest; the record keeps it once.
    const results = readJsonl<{ when: string; sections?: unknown[] }>(join(dir, "results.jsonl"));
    expect(results.values.map((r) => r.sections?.length ?? 0)).toEqual([0, 1, 0, 0, 1, 0]);
    expect(resolveRunDir(root)).toBe(dir);
  });

  it("records a run that ended before collection under the working directory", () => {
    const cwd = tempDir("kiln-rec-");
    const rec = recorder(cwd);
    rec.emit(started);
    const dir = rec.finish(4);
    expect(dir).toBe(join(cwd, ".kiln", "runs", RUN_ID));
    const manifest = JSON.parse(
      readFileSync(join(cwd, ".kiln/runs", RUN_ID, "manifest.json"), "utf8"),
    );
    expect(manifest).toMatchObject({ exitCode: 4, complete: false, rootdir: null });
  });

  it("warns once and goes quiet when it cannot write", () => {
    const warnings: string[] = [];
    // A path below a regular file: mkdir fails with ENOTDIR.
    const file = join(tempDir("kiln-rec-"), "a-file");
    writeFileSync(file, "");
    const rec = recorder(join(file, "cwd"), warnings);
    rec.emit(started);
    expect(rec.finish(0)).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it("leaves a record a killed run can be reported from (no manifest, torn last line)", () => {
    const root = tempDir("kiln-rec-");
    // The flush timer, fired by hand rather than waited for with a sleep.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const rec = recorder(root);
      rec.emit(started);
      rec.emit(collected(root));
      rec.emit(finished("test_a.py::test_ok", "passed"));
      expect(vi.getTimerCount()).toBe(1);
      vi.runOnlyPendingTimers();
    } finally {
      vi.useRealTimers();
    }
    // The process dies after that flush: what reached the file is all there is.
    const dir = join(root, ".kiln", "runs", RUN_ID);
    appendFileSync(join(dir, "results.jsonl"), '{"nodeid":"test_a.py::test_bad","wh');
    const run = loadRun(dir);
    expect(run.skippedLines).toEqual({ results: 1 });
    expect(run.manifest).toMatchObject({ runId: RUN_ID, complete: false, exitCode: 2 });
    expect(run.manifest.outcomes).toMatchObject({ passed: 1, error: 1 });
  });

  it("rebuilds a truncated manifest.json from the records, with a printable warning", async () => {
    const root = tempDir("kiln-rec-");
    try {
      const rec = recorder(root);
      rec.emit(started);
      rec.emit(collected(root));
      rec.emit(finished("test_a.py::test_ok", "passed"));
      rec.finish(0);
      const dir = join(root, ".kiln", "runs", RUN_ID);
      const path = join(dir, "manifest.json");
      const whole = readFileSync(path, "utf8");
      // A full disk or a killed writer: half the file, then NULs.
      writeFileSync(path, `${whole.slice(0, whole.length / 2)}\0\0\0\0`);
      const run = loadRun(dir, []);
      expect(run.manifest).toMatchObject({ runId: RUN_ID });
      expect(run.manifest.outcomes).toMatchObject({ passed: 1 });
      expect(run.manifestProblem).toMatch(
        /manifest\.json is unreadable .*; rebuilt it from the records$/,
      );
      expect(run.manifestProblem).not.toContain("\0");
      writeFileSync(path, "null");
      expect(loadRun(dir).manifestProblem).toMatch(/is not a JSON object/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("KILN_KEEP_RUNS", () => {
  it("defaults to 10 when unset or empty and reads a whole number", () => {
    expect(keepRunsFromEnv({})).toBe(DEFAULT_KEEP_RUNS);
    expect(keepRunsFromEnv({ KILN_KEEP_RUNS: "" })).toBe(DEFAULT_KEEP_RUNS);
    expect(keepRunsFromEnv({ KILN_KEEP_RUNS: "3" })).toBe(3);
    expect(keepRunsFromEnv({ KILN_KEEP_RUNS: " 25 " })).toBe(25);
  });

  it.each(["0", "-1", "abc", "2.5", "1e3", "10abc", "99999999999999999999"])(
    "refuses %j instead of silently meaning 10",
    (value) => {
      expect(() => keepRunsFromEnv({ KILN_KEEP_RUNS: value })).toThrow(KeepRunsError);
      expect(() => keepRunsFromEnv({ KILN_KEEP_RUNS: value })).toThrow(
        `KILN_KEEP_RUNS must be a whole number of runs to keep, at least 1 (the current run is always kept), got ${JSON.stringify(value)}`,
      );
    },
  );
});

describe("run directories", () => {
  it("run ids sort by time", () => {
    const a = newRunId(Date.UTC(2025, 0, 2, 3, 4, 5, 6));
    expect(a).toMatch(/^20250102-030405-006-[0-9a-f]{4}$/);
    expect(newRunId(Date.UTC(2025, 0, 2, 3, 4, 5, 7)) > a).toBe(true);
  });

  it("prunes the oldest runs, never the current one", () => {
    const root = tempDir("kiln-prune-");
    const ids = [
      "20250101-000000-000-0001",
      "20250102-000000-000-0001",
      "20250103-000000-000-0001",
    ];
    for (const id of ids) mkdirSync(join(root, ".kiln", "runs", id), { recursive: true });
    pruneRuns(root, ids[2] as string, 2);
    expect(readdirSync(join(root, ".kiln", "runs")).sort()).toEqual(ids.slice(1));
  });
});
