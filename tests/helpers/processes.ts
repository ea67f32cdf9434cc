// Whether a process Kiln started is still there, for "no process left behind".
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Running, and not merely a zombie waiting for this container's init to reap it. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Live processes whose working directory is `dir` (a zygote and its workers run in the project). */
export function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      if (readlinkSync(`/proc/${name}/cwd`) === dir && processAlive(pid)) found.push(pid);
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

/** Every process whose parent is `pid` (/proc/<n>/stat field 4): a daemon's levels, a zygote's workers. */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
