// Reading the run record a `kiln test` leaves under <rootdir>/.kiln/runs/latest/
// (src/events/records.ts writes it): the lifecycle events of workers.jsonl,
// collection's line of collect.jsonl, when the registry was prepared
// (cache.jsonl) and each test phase's start and stop (results.jsonl). Only
// what the bench's profile needs is kept, and every field is checked, since
// the record belongs to whichever build is being timed, not to this checkout.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A line of workers.jsonl: `at` is epoch ms (Node's Date.now()). */
export interface LifecycleEvent {
  event: string;
  at: number;
  workerId: number | undefined;
  workers: number | undefined;
}

/** One phase (setup, call, teardown) of one test; start and stop are epoch seconds (Python's time.time()). */
export interface PhaseRecord {
  nodeid: string;
  workerId: number;
  when: string;
  start: number;
  stop: number;
}

export interface RunRecord {
  events: LifecycleEvent[];
  /** collect.jsonl's "collection" line. */
  collectedAt: number | undefined;
  items: number | undefined;
  /** The registry:prepared event's time, as cache.jsonl repeats it on every lookup line. */
  registryPreparedAt: number | undefined;
  phases: PhaseRecord[];
}

type Json = Record<string, unknown>;

function lines(dir: string, file: string): Json[] {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  const out: Json[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === "object" && value !== null) out.push(value as Json);
    } catch {
      // A torn last line (a killed run): the rest still counts.
    }
  }
  return out;
}

const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** The latest run recorded under `rootdir`, or undefined when there is none. */
export function readLatestRun(rootdir: string): RunRecord | undefined {
  const dir = join(rootdir, ".kiln/runs/latest");
  if (!existsSync(join(dir, "workers.jsonl"))) return undefined;
  const events: LifecycleEvent[] = [];
  for (const line of lines(dir, "workers.jsonl")) {
    const event = str(line.event);
    const at = num(line.at);
    if (event === undefined || at === undefined) continue;
    events.push({ event, at, workerId: num(line.workerId), workers: num(line.workers) });
  }
  const collection = lines(dir, "collect.jsonl").find((l) => l.type === "collection");
  const lookup = lines(dir, "cache.jsonl").find(
    (l) => l.type === "hit" || l.type === "miss" || l.type === "bypass",
  );
  const phases: PhaseRecord[] = [];
  for (const line of lines(dir, "results.jsonl")) {
    const nodeid = str(line.nodeid);
    const workerId = num(line.workerId);
    const when = str(line.when);
    const start = num(line.start);
    const stop = num(line.stop);
    if (nodeid === undefined || workerId === undefined || when === undefined) continue;
    if (start === undefined || stop === undefined) continue;
    phases.push({ nodeid, workerId, when, start, stop });
  }
  return {
    events,
    collectedAt: num(collection?.at),
    items: num(collection?.items),
    registryPreparedAt: num(lookup?.at),
    phases,
  };
}
