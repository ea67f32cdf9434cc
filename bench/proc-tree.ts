// Reading one process's figures from /proc. Every reader returns undefined
// when the process is gone (or a zombie), which happens all the time while
// sampling a tree that forks and reaps.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  /** The command name (comm): a fork keeps its parent's, an exec changes it. */
  name: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** cutime + cstime: the CPU of children it has already waited for. */
  reapedTicks: number;
}

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat. It is part of the
// kernel ABI and 100 on every mainstream Linux architecture; Node cannot call
// sysconf(_SC_CLK_TCK) without a native module.
export const TICKS_PER_SECOND = 100;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

/** The numeric entries of /proc: every pid alive right now. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    const code = name.charCodeAt(0);
    if (code >= 48 && code <= 57) pids.push(Number(name));
  }
  return pids;
}

export function readStat(pid: number): ProcStat | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields are
  // counted from the last ")" (proc(5)).
  const close = text.lastIndexOf(")");
  const name = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  if (!Number.isFinite(ppid)) return undefined;
  return { name, ppid, cpuTicks: utime + stime, reapedTicks: cutime + cstime };
}

function kbField(text: string, name: string): number | undefined {
  const at = text.indexOf(`\n${name}:`);
  if (at < 0) return undefined;
  const match = /^\s*(\d+)/.exec(text.slice(at + name.length + 2, at + name.length + 40));
  return match ? Number(match[1]) : undefined;
}

/** VmRSS in kB: resident pages, shared ones included (so a tree's sum over-counts COW pages). */
export function readRssKb(pid: number): number | undefined {
  const text = readText(`/proc/${pid}/status`);
  return text === undefined ? undefined : (kbField(text, "VmRSS") ?? 0);
}

/**
 * Unique set size in kB: pages only this process maps (Private_Clean +
 * Private_Dirty of smaps_rollup), i.e. what a forked worker really costs.
 */
export function readUssKb(pid: number): number | undefined {
  const text = readText(`/proc/${pid}/smaps_rollup`);
  if (text === undefined) return undefined;
  const clean = kbField(text, "Private_Clean");
  const dirty = kbField(text, "Private_Dirty");
  if (clean === undefined || dirty === undefined) return undefined;
  return clean + dirty;
}
