// .kiln/daemon.json, written by the daemon once it listens
// (kiln_harness/daemon_server.py _write_info) and removed when it stops.
import { readFileSync, rmSync } from "node:fs";
import { z } from "zod";
import { daemonInfoPath } from "../config/kiln-dir.js";

const daemonInfo = z.object({
  pid: z.number().int(),
  socket: z.string(),
  rootdir: z.string(),
  python: z.string(),
  startedAt: z.number(),
});
export type DaemonInfo = z.infer<typeof daemonInfo>;

/** The project's daemon.json, or undefined when there is none (or it is unreadable). */
export function readDaemonInfo(rootdir: string): DaemonInfo | undefined {
  let text: string;
  try {
    text = readFileSync(daemonInfoPath(rootdir), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = daemonInfo.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid runs: not merely a zombie (a daemon's
 * parent is gone, and a container's init may never reap it), per
 * /proc/<pid>/stat's state field (proc(5)).
 */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}

/** Removes a daemon.json whose daemon is gone (killed with SIGKILL: it could not). */
export function removeStaleInfo(rootdir: string, info: DaemonInfo): void {
  if (pidAlive(info.pid)) return;
  rmSync(daemonInfoPath(rootdir), { force: true });
  rmSync(info.socket, { force: true });
}
