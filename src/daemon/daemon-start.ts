// Starting the project's daemon (kiln_harness/daemon.py): detached in its own
// session, so it outlives `kiln daemon start` and no terminal signal reaches
// it; stdout and stderr appended to .kiln/daemon.log. It writes one JSON line
// on fd 3 once it listens (or why it could not start).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import type { Readable } from "node:stream";
import { harnessArgs } from "../config/harness.js";
import {
  daemonInfoPath,
  daemonLogPath,
  daemonSocketPath,
  ensureKilnDir,
  runsDir,
} from "../config/kiln-dir.js";

export interface DaemonStartRequest {
  rootdir: string;
  cwd: string;
  python: string;
  env: NodeJS.ProcessEnv;
  idleSeconds: number;
}

export type DaemonStarted =
  | { ok: true; pid: number; socket: string; preloaded: number; excluded: [string, string][] }
  | { ok: false; error: string };

/** How long level 0 may take to import what the last run imported. */
const READY_TIMEOUT_MS = 300_000;

export async function startDaemon(request: DaemonStartRequest): Promise<DaemonStarted> {
  await ensureKilnDir(request.rootdir);
  const socket = daemonSocketPath(request.rootdir, request.env);
  const argv = harnessArgs("daemon");
  const config = {
    rootdir: request.rootdir,
    socket,
    info: daemonInfoPath(request.rootdir),
    python: request.python,
    // What the latest run imported from outside the project (its
    // modules.jsonl, source "installed"): level 0 imports it ahead, and
    // rebuilds when a later run's record names more.
    runsDir: runsDir(request.rootdir),
    idleSeconds: request.idleSeconds,
    // The environment a cold run would give the interpreter, as a hash per
    // variable: level 0 refuses a run whose environment differs, and no
    // value shows in its command line.
    envDigest: envDigest(request.env),
    argv,
    startedAt: Date.now(),
    excluded: {},
  };
  const log = openSync(daemonLogPath(request.rootdir), "a");
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(request.python, [...argv, JSON.stringify(config)], {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      stdio: ["ignore", log, log, "pipe"],
    });
  } catch (error) {
    return { ok: false, error: `cannot start ${request.python}: ${String(error)}` };
  } finally {
    closeSync(log);
  }
  const ready = child.stdio[3] as Readable | null;
  if (ready === null) throw new Error("this is a bug in kiln: no fd 3 pipe to the daemon");
  const answer = await new Promise<string>((resolve) => {
    let text = "";
    const timer = setTimeout(() => resolve(""), READY_TIMEOUT_MS);
    ready.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
    });
    ready.on("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve(
        JSON.stringify({ ok: false, error: `cannot start ${request.python}: ${error.message}` }),
      );
    });
  });
  ready.destroy();
  child.unref();
  let parsed: {
    ok?: boolean;
    error?: string;
    pid?: number;
    preloaded?: number;
    excluded?: [string, string][];
  };
  try {
    parsed = JSON.parse(answer);
  } catch {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    return {
      ok: false,
      error:
        `the daemon (${request.python}) exited or hung before it was ready; see ` +
        `${daemonLogPath(request.rootdir)}`,
    };
  }
  if (parsed.ok !== true) return { ok: false, error: parsed.error ?? "unknown error" };
  return {
    ok: true,
    pid: parsed.pid ?? child.pid ?? -1,
    socket,
    preloaded: parsed.preloaded ?? 0,
    excluded: parsed.excluded ?? [],
  };
}

/** {name: sha256(value) in 16 hex digits}: kiln_harness/level0.py env_digest makes the same. */
export function envDigest(env: NodeJS.ProcessEnv): Record<string, string> {
  const digest: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    digest[name] = createHash("sha256").update(value, "utf8").digest("hex").slice(0, 16);
  }
  return digest;
}
