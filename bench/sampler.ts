// Samples a process and all its descendants every ~20 ms: the peak of the
// summed RSS, CPU time per process, and (for chosen depths) each process's
// peak private memory. /proc has no cheap "children of" file on this kernel
// (CONFIG_PROC_CHILDREN is off), so each sample lists /proc and reads a new
// pid's parent once, caching it while the pid stays alive.
import { listPids, readRssKb, readStat, readUssKb, TICKS_PER_SECOND } from "./proc-tree.js";

export const SAMPLE_INTERVAL_MS = 20;

export interface ProcessFigures {
  pid: number;
  ppid: number;
  name: string;
  /** 0 for the command itself, 1 for its children, 2 for grandchildren, ... */
  depth: number;
  firstSeenMs: number;
  lastSeenMs: number;
  peakRssKb: number;
  /** Only for depths listed in SamplerOptions.ussDepths. */
  peakUssKb: number | undefined;
  cpuSeconds: number;
  /** CPU of the children it had waited for, as of its last sample. */
  reapedCpuSeconds: number;
}

export interface TreeFigures {
  peakRssKb: number;
  /** CPU time of the whole tree, short-lived processes included (see treeCpuSeconds). */
  cpuSeconds: number;
  samples: number;
  processes: ProcessFigures[];
}

export interface SamplerOptions {
  ussDepths: readonly number[];
}

export class TreeSampler {
  private readonly parentOf = new Map<number, number>();
  private readonly seen = new Map<number, ProcessFigures>();
  private peakRssKb = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootPid: number,
    private readonly startedAt: number,
    private readonly options: SamplerOptions = { ussDepths: [] },
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  stop(): TreeFigures {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const processes = [...this.seen.values()];
    return {
      peakRssKb: this.peakRssKb,
      cpuSeconds: treeCpuSeconds(processes),
      samples: this.samples,
      processes,
    };
  }

  /** The tree as of now, root first: for killing it on a timeout. */
  livePids(): number[] {
    return [...this.depths().keys()];
  }

  private depths(): Map<number, number> {
    const alive = new Set(listPids());
    for (const pid of this.parentOf.keys()) {
      // A vanished pid may come back as an unrelated process: forget it.
      if (!alive.has(pid)) this.parentOf.delete(pid);
    }
    for (const pid of alive) {
      if (this.parentOf.has(pid)) continue;
      const stat = readStat(pid);
      if (stat) this.parentOf.set(pid, stat.ppid);
    }
    const children = new Map<number, number[]>();
    for (const [pid, ppid] of this.parentOf) {
      const list = children.get(ppid);
      if (list) list.push(pid);
      else children.set(ppid, [pid]);
    }
    const depth = new Map<number, number>();
    if (!alive.has(this.rootPid)) return depth;
    const queue: number[] = [this.rootPid];
    depth.set(this.rootPid, 0);
    for (let i = 0; i < queue.length; i++) {
      const pid = queue[i] as number;
      const d = depth.get(pid) ?? 0;
      for (const child of children.get(pid) ?? []) {
        depth.set(child, d + 1);
        queue.push(child);
      }
    }
    return depth;
  }

  private sample(): void {
    const now = performance.now() - this.startedAt;
    let total = 0;
    for (const [pid, depth] of this.depths()) {
      const rss = readRssKb(pid);
      const stat = readStat(pid);
      if (rss === undefined || stat === undefined) continue;
      total += rss;
      let figures = this.seen.get(pid);
      if (figures === undefined) {
        figures = {
          pid,
          depth,
          firstSeenMs: now,
          lastSeenMs: now,
          peakRssKb: 0,
          peakUssKb: undefined,
          cpuSeconds: 0,
          reapedCpuSeconds: 0,
          ppid: stat.ppid,
          name: stat.name,
        };
        this.seen.set(pid, figures);
      }
      figures.lastSeenMs = now;
      figures.peakRssKb = Math.max(figures.peakRssKb, rss);
      figures.cpuSeconds = stat.cpuTicks / TICKS_PER_SECOND;
      figures.reapedCpuSeconds = stat.reapedTicks / TICKS_PER_SECOND;
      if (this.options.ussDepths.includes(depth)) {
        const uss = readUssKb(pid);
        if (uss !== undefined) figures.peakUssKb = Math.max(figures.peakUssKb ?? 0, uss);
      }
    }
    this.peakRssKb = Math.max(this.peakRssKb, total);
    this.samples++;
  }
}

/**
 * CPU of the whole tree. A process's cutime/cstime covers every descendant it
 * (and they, recursively) waited for, so a subtree costs its root's own time
 * plus the larger of that figure and the sum of its sampled children's
 * subtrees. The kernel's figure recovers processes too short-lived to be
 * sampled (pytest-forked's per-test forks) and their last interval; the
 * sampled sum covers children not yet reaped at the parent's last sample.
 */
export function treeCpuSeconds(processes: readonly ProcessFigures[]): number {
  const children = new Map<number, ProcessFigures[]>();
  for (const p of processes) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const subtree = (p: ProcessFigures): number => {
    const sampled = (children.get(p.pid) ?? []).reduce((sum, c) => sum + subtree(c), 0);
    return p.cpuSeconds + Math.max(p.reapedCpuSeconds, sampled);
  };
  return processes.filter((p) => p.depth === 0).reduce((sum, p) => sum + subtree(p), 0);
}
