// Starting the pools a server or a one-shot `kiln exec` needs, one per
// profile, all or nothing: a profile that can't be applied stops the start
// with its reason (never a silent downgrade).
import { rmSync } from "node:fs";
import { PyodidePool } from "../pyodide/pyodide-pool.js";
import { ensureSnapshot } from "../pyodide/snapshot.js";
import { resolveWheels, WheelError } from "../pyodide/wheels.js";
import { createScratchDir } from "../zygote/scratch-dir.js";
import type { ExecPool, Runtime } from "./exec-pool.js";
import type { Profile } from "./exec-zygote.js";
import { Pool, type PoolObserver } from "./pool.js";
import type { SizingConfig } from "./sizing.js";

export interface PoolSetOptions {
  profiles: Profile[];
  python: string;
  preload?: string[];
  sizing?: Partial<SizingConfig>;
  observer?: PoolObserver;
  /** RLIMIT_NPROC in each sandboxed pool's user namespace. */
  processes?: number;
  /** native (default): sandboxed processes; pyodide: Wasm instances in threads. */
  runtime?: Runtime;
  /** pyodide: wheel files given by --wheel (joined by [tool.kiln.exec] wheels). */
  wheels?: string[];
  /** Where .kiln/ is (the pyodide snapshot cache); default the working directory. */
  rootdir?: string;
}

export interface PoolSet {
  pools: Map<Profile, ExecPool>;
  stop(): Promise<void>;
}

/** Processes a sandboxed pool may run in all (workers and their children): a fork bomb stops here. */
export const DEFAULT_POOL_PROCESSES = 256;

export async function startPools(options: PoolSetOptions): Promise<PoolSet> {
  const scratchDir = createScratchDir();
  const pools = new Map<Profile, ExecPool>();
  const stop = async () => {
    await Promise.all([...pools.values()].map((p) => p.stop()));
    rmSync(scratchDir, { recursive: true, force: true });
  };
  try {
    if (options.runtime === "pyodide") {
      const rootdir = options.rootdir ?? process.cwd();
      const snapshotPath = await ensureSnapshot(
        rootdir,
        options.preload ?? [],
        resolveWheels(options.wheels ?? [], rootdir),
      );
      for (const profile of options.profiles) {
        pools.set(
          profile,
          new PyodidePool({
            profile,
            snapshotPath,
            sizing: options.sizing,
            observer: options.observer,
          }),
        );
      }
      return { pools, stop };
    }
    if (options.wheels?.length) {
      // Native workers import what the interpreter has installed (--python).
      throw new WheelError(
        "--wheel is for the pyodide runtime; the native runtime imports the packages installed in --python's environment",
      );
    }
    for (const profile of options.profiles) {
      pools.set(
        profile,
        await Pool.start({
          profile,
          python: options.python,
          preload: options.preload,
          scratchDir,
          sizing: options.sizing,
          observer: options.observer,
          processes: profile === "none" ? undefined : (options.processes ?? DEFAULT_POOL_PROCESSES),
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { pools, stop };
}
