// The memory snapshot Pyodide instances boot from (issue 14): built once by
// booting Pyodide cold (~4 s) with Kiln's exec harness imported, then cached
// as .kiln/pyodide/snapshot-<pyodide version>-<key>.bin, where the key
// hashes the harness sources, the thread that builds it, the wheels'
// contents (sha256) and the preloaded modules, so a new Pyodide, a changed
// harness or a rebuilt wheel builds a new one and never boots a stale heap.
// Beside it, <snapshot>.files holds the files the wheels installed
// (installed-files.ts).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { HARNESS_DIR } from "../config/harness.js";
import { kilnDir } from "../config/kiln-dir.js";
import { filesPathOf, type InstalledFile, packFiles } from "./installed-files.js";
import type { ThreadData, ThreadMessage } from "./instance-thread.js";
import type { Wheel } from "./wheels.js";

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

export function snapshotPath(rootdir: string, preload: string[], wheels: Wheel[] = []): string {
  const hash = createHash("sha256");
  for (const [name, source] of Object.entries(harnessSources()))
    hash.update(`${name}\0${source}\0`);
  // The thread's code builds the snapshot's heap too (what it writes, imports).
  hash.update(readFileSync(fileURLToPath(INSTANCE_THREAD)));
  hash.update(JSON.stringify([...preload].sort()));
  hash.update(JSON.stringify(wheels.map((w) => w.sha256).sort()));
  const key = hash.digest("hex").slice(0, 16);
  return join(kilnDir(rootdir), "pyodide", `snapshot-${pyodideVersion()}-${key}.bin`);
}

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** The cached snapshot's path, building it first when there is none. */
export async function ensureSnapshot(
  rootdir: string,
  preload: string[],
  wheels: Wheel[] = [],
): Promise<string> {
  const path = snapshotPath(rootdir, preload, wheels);
  if (existsSync(path) && existsSync(filesPathOf(path))) return path;
  mkdirSync(join(kilnDir(rootdir), "pyodide"), { recursive: true });
  const gitignore = join(kilnDir(rootdir), ".gitignore");
  if (!existsSync(gitignore)) writeFileSync(gitignore, "*\n");
  const built = await buildSnapshot(preload, wheels);
  // Written aside and renamed, the files first: a server started meanwhile
  // never boots half a file, nor a snapshot without its files.
  const aside = (final: string, bytes: Uint8Array) => {
    const partial = `${final}.${process.pid}.partial`;
    writeFileSync(partial, bytes);
    renameSync(partial, final);
  };
  aside(filesPathOf(path), packFiles(built.files));
  aside(path, built.bytes);
  return path;
}

function buildSnapshot(
  preload: string[],
  wheels: Wheel[],
): Promise<{ bytes: Uint8Array; files: InstalledFile[] }> {
  const thread = new Worker(INSTANCE_THREAD, {
    workerData: {
      mode: "snapshot",
      harness: harnessSources(),
      preload,
      wheels: wheels.map(({ path, name, version }) => ({ path, name, version })),
    } satisfies ThreadData,
  });
  return new Promise<{ bytes: Uint8Array; files: InstalledFile[] }>((resolve, reject) => {
    thread.on("message", (message: ThreadMessage) => {
      if (message.type === "snapshot") resolve({ bytes: message.bytes, files: message.files });
      else if (message.type === "refused") reject(new SnapshotError(message.message));
      else if (message.type === "failed")
        reject(new SnapshotError(`building the Pyodide snapshot failed: ${message.message}`));
    });
    thread.on("error", (error) =>
      reject(new SnapshotError(`building the Pyodide snapshot failed: ${error.message}`)),
    );
    thread.on("exit", (code) =>
      reject(new SnapshotError(`the snapshot thread exited with ${code} before it was done`)),
    );
  }).finally(() => void thread.terminate());
}
