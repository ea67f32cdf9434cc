// The bench's reading of a run record: phases relative to the spawn, fork ->
// first test per worker, the gaps between a worker's tests and its time
// outside tests. A hand-made record with round numbers, so every figure is
// known exactly.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { profileRun } from "../../../bench/run-profile.js";
import { type PhaseRecord, type RunRecord, readLatestRun } from "../../../bench/run-record.js";
import { tempDir } from "../../helpers/temp.js";

const T0 = 1_800_000_000_000; // the bench's spawn, epoch ms

/** Setup, call and teardown of one test, from `startMs` to `endMs` after T0. */
function test(nodeid: string, workerId: number, startMs: number, endMs: number): PhaseRecord[] {
  const s = (ms: number) => (T0 + ms) / 1000;
  const mid = (startMs + endMs) / 2;
  return [
    { nodeid, workerId, when: "setup", start: s(startMs), stop: s(startMs + 0.1) },
    { nodeid, workerId, when: "call", start: s(startMs + 0.1), stop: s(mid) },
    { nodeid, workerId, when: "teardown", start: s(mid), stop: s(endMs) },
  ];
}

function record(): RunRecord {
  const ev = (event: string, at: number, workerId?: number, workers?: number) => ({
    event,
    at: T0 + at,
    workerId,
    workers,
  });
  return {
    events: [
      ev("run:started", 100, undefined, 2),
      ev("zygote:spawned", 103),
      ev("zygote:ready", 300),
      ev("worker:spawn-requested", 350, 1),
      ev("worker:spawn-requested", 351, 2),
      ev("worker:spawned", 354, 1),
      ev("worker:spawned", 356, 2),
      ev("worker:exited", 400, 1),
      ev("worker:exited", 410, 2),
      ev("zygote:exited", 420),
      ev("run:finished", 421),
    ],
    collectedAt: T0 + 340,
    items: 4,
    registryPreparedAt: T0 + 290,
    // Interleaved as the relay writes them: worker 1 then 2 then 1 again.
    phases: [
      ...test("t.py::a", 1, 360, 370),
      ...test("t.py::c", 2, 362, 380),
      ...test("t.py::b", 1, 371, 390),
      ...test("t.py::d", 2, 384, 400),
    ],
  };
}

describe("profileRun", () => {
  it("places each phase in ms after the spawn, and the exit at the wall time", () => {
    const profile = profileRun(record(), T0, 430);
    expect(profile?.phases).toEqual({
      "node ready (run:started)": 100,
      "zygote spawned": 103,
      "registry prepared": 290,
      "zygote ready (registry sent)": 300,
      "collection finished": 340,
      "first fork requested": 350,
      "first worker spawned": 354,
      "first test started": expect.closeTo(360, 3),
      "last test finished": expect.closeTo(400, 3),
      "last worker exited": 410,
      "zygote exited": 420,
      "run finished": 421,
      exit: 430,
    });
    expect(profile?.workers).toBe(2);
    expect(profile?.tests).toBe(4);
  });

  it("counts the workers forked, not run:started's ceiling (-n auto)", () => {
    const auto = record();
    auto.events = auto.events.map((e) => (e.event === "run:started" ? { ...e, workers: 8 } : e));
    expect(profileRun(auto, T0, 430)?.workers).toBe(2);
  });

  it("measures fork -> first test and the gaps per worker, never across workers", () => {
    const profile = profileRun(record(), T0, 430);
    // Worker 1: requested 350, first test 360; worker 2: 351 -> 362.
    expect(profile?.forkToFirstTestMs.map((v) => Math.round(v * 1000) / 1000)).toEqual([10, 11]);
    // Worker 1: a ends 370, b starts 371; worker 2: c ends 380, d starts 384.
    expect(profile?.betweenTestsMs.map((v) => Math.round(v * 1000) / 1000)).toEqual([1, 4]);
  });

  it("counts a worker's life outside tests, as a share and per test", () => {
    const profile = profileRun(record(), T0, 430);
    // Worker 1 lives 354 -> 400 (46 ms), 29 in tests; worker 2 356 -> 410 (54 ms), 34 in tests.
    const share = profile?.outsideShare.map((v) => Math.round(v * 1000) / 1000);
    expect(share).toEqual([
      Math.round((17 / 46) * 1000) / 1000,
      Math.round((20 / 54) * 1000) / 1000,
    ]);
    expect(profile?.outsidePerTestMs).toBeCloseTo((17 + 20) / 4, 6);
  });

  it("refuses a record from an earlier run (a stale latest link)", () => {
    expect(profileRun(record(), T0 + 500, 430)).toBeUndefined();
  });
});

describe("readLatestRun", () => {
  it("reads the files Kiln writes, skipping a torn last line", () => {
    const dir = tempDir("kiln-bench-record-");
    const run = join(dir, ".kiln/runs/20261129-000000-000-abcd");
    mkdirSync(run, { recursive: true });
    symlinkSync("20261129-000000-000-abcd", join(dir, ".kiln/runs/latest"));
    const jsonl = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
    writeFileSync(
      join(run, "workers.jsonl"),
      `${jsonl([
        { event: "run:started", at: T0, workers: 1 },
        { event: "worker:spawned", at: T0 + 5, workerId: 1, pid: 7 },
      ])}{"event":"run:fin`,
    );
    writeFileSync(
      join(run, "collect.jsonl"),
      jsonl([
        { type: "collection", at: T0 + 3, items: 1 },
        { type: "item", nodeid: "t.py::a" },
      ]),
    );
    writeFileSync(
      join(run, "cache.jsonl"),
      jsonl([{ type: "miss", module: "m", path: "/m.py", at: T0 + 2 }]),
    );
    writeFileSync(
      join(run, "results.jsonl"),
      jsonl([{ nodeid: "t.py::a", workerId: 1, when: "setup", start: 1.5, stop: 1.6, at: T0 + 9 }]),
    );
    const read = readLatestRun(dir);
    expect(read?.events.map((e) => e.event)).toEqual(["run:started", "worker:spawned"]);
    expect(read?.events[0]?.workers).toBe(1);
    expect(read?.collectedAt).toBe(T0 + 3);
    expect(read?.items).toBe(1);
    expect(read?.registryPreparedAt).toBe(T0 + 2);
    expect(read?.phases).toEqual([
      { nodeid: "t.py::a", workerId: 1, when: "setup", start: 1.5, stop: 1.6 },
    ]);
  });

  it("is undefined where Kiln never ran", () => {
    expect(readLatestRun(tempDir("kiln-bench-record-"))).toBeUndefined();
  });
});
