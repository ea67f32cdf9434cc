// Whether a process Kiln started is still there, for "no process left behind".
import { readFileSync } from "node:fs";

/** Running, and not merely a zombie waiting for this container's init to reap it. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
