// `kiln cache stats|clear|gc [--store URL]`: look at or prune the store of
// compiled modules. The store lives in <rootdir>/.kiln/, with pytest's rootdir
// worked out from the current directory as `kiln test` does without
// arguments (src/config/rootdir.ts), so any directory of the project will do.
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { registryPath } from "../config/kiln-dir.js";
import { pytestRootdir } from "../config/rootdir.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { openStore, parseStoreSpec, StoreSpecError } from "../registry/open-store.js";
import { readRegistryTotals } from "../registry/sqlite-stats.js";
import type { ModuleStore } from "../registry/types.js";

export type CacheAction = "stats" | "clear" | "gc";

const ACTIONS: ReadonlyArray<[CacheAction, string]> = [
  ["stats", "show where the store is, its entries and size"],
  ["clear", "remove every entry"],
  ["gc", "evict least-recently-used entries down to 90% of the size bound"],
];

export interface CacheIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const STDIO: CacheIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function registerCacheCommand(program: Command): void {
  const cache = program
    .command("cache")
    .description("inspect or prune the compiled-module store of the project (pytest's rootdir)");
  for (const [action, description] of ACTIONS) {
    cache
      .command(action)
      .description(description)
      .option("--store <url>", "sqlite (default: .kiln/registry.sqlite) or redis://host:port")
      .action(async (raw: { store?: string }) => {
        const rootdir = pytestRootdir({ cwd: process.cwd(), args: [], env: process.env });
        process.exitCode = await cacheAction(action, raw.store, rootdir);
      });
  }
}

/** Runs one `kiln cache` action against the store for `rootdir`; returns the exit code. */
export async function cacheAction(
  action: CacheAction,
  spec: string | undefined,
  rootdir: string,
  io: CacheIo = STDIO,
): Promise<number> {
  let kind: "sqlite" | "redis";
  try {
    kind = parseStoreSpec(spec).kind;
  } catch (error) {
    if (!(error instanceof StoreSpecError)) throw error;
    io.err(`kiln: error: ${error.message}`);
    return ExitCode.USAGE_ERROR;
  }
  // Looking must not create: no database yet means an empty store.
  if (kind === "sqlite" && !existsSync(registryPath(rootdir))) {
    io.out(`location: ${registryPath(rootdir)} (not created yet)`);
    if (action === "stats") printStats(io, { entries: 0, bytes: 0, corrupted: 0 });
    return ExitCode.OK;
  }
  if (kind === "sqlite" && action === "stats") {
    // Read-only: stats must work on a store this user cannot write.
    try {
      const totals = readRegistryTotals(registryPath(rootdir));
      io.out(`location: ${registryPath(rootdir)}`);
      printStats(io, { ...totals, corrupted: 0 });
      return ExitCode.OK;
    } catch (error) {
      io.err(`kiln: error: ${registryPath(rootdir)}: ${messageOf(error)}`);
      return ExitCode.CACHE_FAILED;
    }
  }
  let store: ModuleStore;
  try {
    // No fallback: `kiln cache clear --store redis://…` must not clear the
    // local store instead because Redis happened to be down.
    ({ store } = await openStore(spec, rootdir, {
      fallback: false,
      warn: (m) => io.err(`kiln: warning: ${m}`),
    }));
  } catch (error) {
    io.err(`kiln: error: ${messageOf(error)}`);
    return ExitCode.CACHE_FAILED;
  }
  try {
    const before = await store.stats();
    io.out(`location: ${before.location}`);
    if (action === "stats") {
      printStats(io, before);
    } else if (action === "clear") {
      await store.clear();
      io.out(
        `removed ${plural(before.entries, "entry", "entries")} (${formatBytes(before.bytes)})`,
      );
    } else {
      const removed = await store.gc();
      const after = await store.stats();
      io.out(
        `evicted ${plural(removed, "entry", "entries")}; ` +
          `${plural(after.entries, "entry", "entries")} (${formatBytes(after.bytes)}) remain` +
          (kind === "redis" ? " (Redis evicts by itself: use maxmemory-policy allkeys-lru)" : ""),
      );
    }
    return ExitCode.OK;
  } catch (error) {
    io.err(`kiln: error: ${messageOf(error)}`);
    return ExitCode.CACHE_FAILED;
  } finally {
    await store.close().catch(() => undefined);
  }
}

function printStats(io: CacheIo, stats: { entries: number; bytes: number; corrupted: number }) {
  io.out(`entries: ${stats.entries}`);
  io.out(`bytes: ${formatBytes(stats.bytes)} (${stats.bytes})`);
  io.out(`corrupted: ${stats.corrupted}`);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
