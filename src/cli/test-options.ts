// Kiln's own `kiln test` flags, validated; everything else goes to pytest
// untouched and in order, so pytest parses it exactly as `python -m pytest`.
import { availableParallelism } from "node:os";
import { MAX_TIMEOUT_SECONDS } from "../config/timer-limit.js";
import { parseStoreSpec, StoreSpecError } from "../registry/open-store.js";
import type { RegistryOptions } from "../registry/registry-session.js";
import { type IsolationProfile, ProfileError, parseProfile } from "../sandbox/profiles.js";
import type { DistMode } from "../scheduler/grouping.js";
import { parseShard, type ShardSpec, ShardSpecError } from "../scheduler/shard.js";

export class UsageError extends Error {}

export interface RawTestOptions {
  numprocesses?: string;
  dist?: string;
  timeout?: string;
  python?: string;
  /** commander's --no-registry sets this to false. */
  registry?: boolean;
  store?: string;
  isolate?: string;
  /** commander's --no-daemon sets this to false. */
  daemon?: boolean;
  shard?: string;
}

export interface TestOptions {
  /** The worker count, or with `workersAuto` the most workers there may be. */
  workers: number;
  /** `-n auto` (the default): the count is chosen after collection (scheduler/worker-count.ts). */
  workersAuto: boolean;
  dist: DistMode;
  timeout: number | null;
  python: string | undefined;
  /** null when --no-registry; else where compiled modules are stored. */
  registry: RegistryOptions | null;
  /** --isolate; undefined: [tool.kiln] isolate, else "none". */
  isolate: IsolationProfile | undefined;
  /** Ask the project's daemon for the zygote (false: --no-daemon). */
  daemon: boolean;
  /** --shard I/N: this machine runs its part of the split (scheduler/shard.ts). */
  shard?: ShardSpec;
}

const DIST_MODES: readonly DistMode[] = ["module", "class", "test"];

/** `-n auto` and xdist's `-n logical`: one worker per core at most, chosen after collection. */
export function isAutoWorkers(value: string | undefined): value is undefined | "auto" | "logical" {
  return value === undefined || value === "auto" || value === "logical";
}

export function parseWorkers(value: string | undefined, cores = availableParallelism()): number {
  if (isAutoWorkers(value)) return Math.max(1, cores);
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`-n expects a number of workers or "auto", got ${JSON.stringify(value)}`);
  }
  // -n 0 means "no parallelism" (as in xdist): one worker, items run serially.
  return Math.max(1, Number.parseInt(value, 10));
}

export function parseTestOptions(raw: RawTestOptions, cores?: number): TestOptions {
  const dist = (raw.dist ?? "module") as DistMode;
  if (!DIST_MODES.includes(dist)) {
    throw new UsageError(`--dist must be one of ${DIST_MODES.join(", ")}, got ${raw.dist}`);
  }
  let timeout: number | null = null;
  if (raw.timeout !== undefined) {
    timeout = Number(raw.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new UsageError(`--timeout expects seconds (a number >= 0), got ${raw.timeout}`);
    }
    if (timeout > MAX_TIMEOUT_SECONDS) {
      throw new UsageError(
        `--timeout is at most ${MAX_TIMEOUT_SECONDS} seconds (24.8 days, the longest timer ` +
          `Node can set), got ${raw.timeout}; use --timeout 0 for no timeout`,
      );
    }
    if (timeout === 0) timeout = null; // pytest-timeout: 0 disables the timeout
  }
  try {
    // The same check `kiln cache` makes: a spec that names no store is a
    // usage error before the run, never a registry silently turned off.
    parseStoreSpec(raw.store);
  } catch (error) {
    if (error instanceof StoreSpecError) throw new UsageError(error.message);
    throw error;
  }
  let isolate: IsolationProfile | undefined;
  if (raw.isolate !== undefined) {
    try {
      isolate = parseProfile(raw.isolate, "--isolate");
    } catch (error) {
      if (error instanceof ProfileError) throw new UsageError(error.message);
      throw error;
    }
  }
  let shard: ShardSpec | undefined;
  if (raw.shard !== undefined) {
    try {
      shard = parseShard(raw.shard);
    } catch (error) {
      if (error instanceof ShardSpecError) throw new UsageError(error.message);
      throw error;
    }
  }
  return {
    ...(shard === undefined ? {} : { shard }),
    isolate,
    workers: parseWorkers(raw.numprocesses, cores),
    workersAuto: isAutoWorkers(raw.numprocesses),
    dist,
    timeout,
    python: raw.python,
    registry: raw.registry === false ? null : { store: raw.store },
    daemon: raw.daemon !== false,
  };
}
