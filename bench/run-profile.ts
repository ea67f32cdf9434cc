// One Kiln run, from its run record: when each phase of a cold run was
// reached (ms after the bench spawned `kiln`), and the in-run micro-figures
// issue 16 sets targets for: fork requested -> first test, the time a worker
// spends between two tests, the share of its life outside tests.
import type { PhaseRecord, RunRecord } from "./run-record.js";

/** The phases of a cold run, in the order they happen (issue 16, "What to deliver"). */
export const PHASES = [
  // `kiln test` spawns the zygote from main.ts, before the rest of the CLI
  // loads (src/cli/early-zygote.ts; before that change it came ~3 ms after
  // run:started, and its "+" below is negative for such builds).
  "zygote spawned",
  // run:started is emitted once the CLI's modules are loaded and the options parsed.
  "node ready (run:started)",
  "registry prepared",
  // src/zygote/run-tests.ts emits zygote:ready only after the registry is
  // prepared, when it sends registry:ready: the end of the zygote's own
  // handshake is not recorded separately.
  "zygote ready (registry sent)",
  "collection finished",
  "first fork requested",
  "first worker spawned",
  "first test started",
  "last test finished",
  "last worker exited",
  "zygote exited",
  "run finished",
  // Measured by the bench, not recorded: the node process's exit.
  "exit",
] as const;

export type Phase = (typeof PHASES)[number];

export interface RunProfile {
  /**
   * The workers Kiln forked (worker:spawn-requested, as the manifest's
   * workersStarted counts them): with `-n auto`, run:started's count is only
   * the ceiling, chosen from after collection.
   */
  workers: number | undefined;
  tests: number;
  /** ms after the spawn of `kiln`; absent when the record does not say. */
  phases: Partial<Record<Phase, number>>;
  /** Per worker: worker:spawn-requested -> its first test's setup started, ms. */
  forkToFirstTestMs: number[];
  /** Per pair of consecutive tests on one worker: end of one -> start of the next, ms. */
  betweenTestsMs: number[];
  /** Per worker: the share of worker:spawned -> worker:exited spent outside tests. */
  outsideShare: number[];
  /** All workers' time outside tests (spawned -> exited, minus tests) ÷ tests run, ms. */
  outsidePerTestMs: number | undefined;
}

interface TestSpan {
  workerId: number;
  start: number;
  end: number;
}

/** Each test's span in ms: consecutive phases of one nodeid on one worker. */
function testSpans(phases: readonly PhaseRecord[]): TestSpan[] {
  const spans: TestSpan[] = [];
  const open = new Map<number, { nodeid: string; span: TestSpan }>();
  for (const phase of phases) {
    const start = phase.start * 1000;
    const end = phase.stop * 1000;
    const current = open.get(phase.workerId);
    if (current !== undefined && current.nodeid === phase.nodeid && phase.when !== "setup") {
      current.span.start = Math.min(current.span.start, start);
      current.span.end = Math.max(current.span.end, end);
      continue;
    }
    const span = { workerId: phase.workerId, start, end };
    spans.push(span);
    open.set(phase.workerId, { nodeid: phase.nodeid, span });
  }
  return spans;
}

function firstAt(record: RunRecord, event: string, workerId?: number): number | undefined {
  const times = record.events
    .filter((e) => e.event === event && (workerId === undefined || e.workerId === workerId))
    .map((e) => e.at);
  return times.length === 0 ? undefined : Math.min(...times);
}

function lastAt(record: RunRecord, event: string, workerId?: number): number | undefined {
  const times = record.events
    .filter((e) => e.event === event && (workerId === undefined || e.workerId === workerId))
    .map((e) => e.at);
  return times.length === 0 ? undefined : Math.max(...times);
}

/**
 * The profile of one run. `spawnedAtEpochMs` is when the bench spawned the
 * command and `wallMs` how long it ran; undefined when the record is not this
 * run's (it started before the spawn: a stale `latest`).
 */
export function profileRun(
  record: RunRecord,
  spawnedAtEpochMs: number,
  wallMs: number,
): RunProfile | undefined {
  const started = firstAt(record, "run:started");
  // Date.now() is whole milliseconds; performance.timeOrigin is not.
  if (started === undefined || started < Math.floor(spawnedAtEpochMs) - 1) return undefined;
  const spans = testSpans(record.phases).sort((a, b) => a.start - b.start);
  const since = (at: number | undefined) => (at === undefined ? undefined : at - spawnedAtEpochMs);
  const absolute: [Phase, number | undefined][] = [
    ["node ready (run:started)", started],
    ["zygote spawned", firstAt(record, "zygote:spawned")],
    ["registry prepared", record.registryPreparedAt],
    ["zygote ready (registry sent)", firstAt(record, "zygote:ready")],
    ["collection finished", record.collectedAt],
    ["first fork requested", firstAt(record, "worker:spawn-requested")],
    ["first worker spawned", firstAt(record, "worker:spawned")],
    ["first test started", spans.length > 0 ? Math.min(...spans.map((s) => s.start)) : undefined],
    ["last test finished", spans.length > 0 ? Math.max(...spans.map((s) => s.end)) : undefined],
    ["last worker exited", lastAt(record, "worker:exited")],
    ["zygote exited", lastAt(record, "zygote:exited")],
    ["run finished", lastAt(record, "run:finished")],
  ];
  const phases: Partial<Record<Phase, number>> = { exit: wallMs };
  for (const [name, at] of absolute) {
    const ms = since(at);
    if (ms !== undefined) phases[name] = ms;
  }

  const workerIds = [
    ...new Set(record.events.flatMap((e) => (e.workerId === undefined ? [] : [e.workerId]))),
  ];
  const forkToFirstTestMs: number[] = [];
  const betweenTestsMs: number[] = [];
  const outsideShare: number[] = [];
  let outsideMs = 0;
  let outsideKnown = false;
  for (const id of workerIds) {
    const mine = spans.filter((s) => s.workerId === id);
    const requested = firstAt(record, "worker:spawn-requested", id);
    const first = mine[0];
    if (requested !== undefined && first !== undefined) {
      forkToFirstTestMs.push(first.start - requested);
    }
    for (let i = 1; i < mine.length; i++) {
      betweenTestsMs.push((mine[i] as TestSpan).start - (mine[i - 1] as TestSpan).end);
    }
    const spawned = firstAt(record, "worker:spawned", id);
    const exited = lastAt(record, "worker:exited", id);
    if (spawned !== undefined && exited !== undefined && exited > spawned && mine.length > 0) {
      const inTests = mine.reduce((sum, s) => sum + (s.end - s.start), 0);
      const life = exited - spawned;
      outsideShare.push(Math.max(0, 1 - inTests / life));
      outsideMs += Math.max(0, life - inTests);
      outsideKnown = true;
    }
  }
  return {
    workers: record.events.some((e) => e.event === "run:started")
      ? record.events.filter((e) => e.event === "worker:spawn-requested").length
      : undefined,
    tests: spans.length,
    phases,
    forkToFirstTestMs,
    betweenTestsMs,
    outsideShare,
    outsidePerTestMs: outsideKnown && spans.length > 0 ? outsideMs / spans.length : undefined,
  };
}
