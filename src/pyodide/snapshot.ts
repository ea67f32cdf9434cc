// The memory snapshot Pyodide instances boot from (issue 14): built once by
// booting Pyodide cold (~4 s) with Kiln's exec harness imported, then cached
// as .kiln/pyodide/snapshot-<pyodide version>-<key>.bin, where the key
// hashes the harness sources, the thread that builds it and the preloaded
// packages, so a new Pyodide or a changed harness builds a new one and
// never boots a stale heap.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { HARNESS_DIR } from "../config/harness.js";
import { kilnDir } from "../config/kiln-dir.js";
import type { ThreadData, ThreadMessage } from "./instance-thread.js";

/** The harness files the Wasm runtime runs (exec_wasm.py and what it imports). */
const HARNESS_FILES = ["exec_run.py", "exec_workspace.py", "exec_wasm.py"];

export const INSTANCE_THREAD = new URL("../pyodide/instance-thread.js", import.meta.url);

export function pyodideVersion(): string {
  const require = createRequire(import.meta.url);
  const manifest = require("pyodide/package.json") as { version: string };
  return manifest.version;
}

function harnessSources(): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const name of HARNESS_FILES) {
    sources[name] = readFileSync(join(HARNESS_DIR, "kiln_harness", name), "utf8");
  }
  return sources;
}

export function snapshotPath(rootdir: string, preload: string[]): string {
  const hash = createHash("sha256");
  for (const [name, source] of Object.entries(harnessSources()))
    hash.update(`${name}\0${source}\0`);
  // The thread's code builds the snapshot's heap too (what it writes, imports).
  hash.update(readFileSync(fileURLToPath(INSTANCE_THREAD)));
  hash.update(JSON.stringify([...preload].sort()));
  const key = hash.digest("hex").slice(0, 16);
  return join(kilnDir(rootdir), "pyodide", `snapshot-${pyodideVersion()}-${key}.bin`);
}

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** The cached snapshot's path, building it first when there is none. */
export async function ensureSnapshot(rootdir: string, preload: string[]): Promise<string> {
  if (preload.length) {
    throw new SnapshotError(
      `--preload ${preload.join(",")}: the pyodide runtime preloads no packages yet (Kiln vendors no wheels; it never fetches them)`,
    );
  }
  const path = snapshotPath(rootdir, preload);
  if (existsSync(path)) return path;
  mkdirSync(join(kilnDir(rootdir), "pyodide"), { recursive: true });
  const gitignore = join(kilnDir(rootdir), ".gitignore");
  if (!existsSync(gitignore)) writeFileSync(gitignore, "*\n");
  const bytes = await buildSnapshot();
  // Written aside and renamed: a server started meanwhile never boots half a file.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
  return path;
}

function buildSnapshot(): Promise<Uint8Array> {
  const thread = new Worker(INSTANCE_THREAD, {
    workerData: { mode: "snapshot", harness: harnessSources() } satisfies ThreadData,
  });
  return new Promise((resolve, reject) => {
    thread.on("message", (message: ThreadMessage) => {
      if (message.type === "snapshot") resolve(message.bytes);
      else if (message.type === "failed")
        reject(new SnapshotError(`building the Pyodide snapshot failed: ${message.message}`));
    });
    thread.on("error", (error) =>
      reject(new SnapshotError(`building the Pyodide snapshot failed: ${error.message}`)),
    );
    thread.on("exit", (code) =>
      reject(new SnapshotError(`the snapshot thread exited with ${code} before it was done`)),
    );
  }).finally(() => void thread.terminate()) as Promise<Uint8Array>;
}
