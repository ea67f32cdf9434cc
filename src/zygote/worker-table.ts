// The workers of one run and what each holds: its pid, its connection, the
// items handed to it, its watchdog. Bookkeeping only; the decisions (hand
// out, replace, give up) are the run machine's.
import { MAX_TIMER_MS } from "../config/timer-limit.js";
import type { WorkerDeath } from "./crash-message.js";
import { type RunPorts, TIMEOUT_GRACE_MS, type Timer } from "./run-ports.js";

export interface WorkerState {
  id: number;
  pid: number | undefined;
  /** pid came from the zygote's worker:spawned (authoritative). */
  pidFromZygote: boolean;
  connected: boolean;
  /** Item indices sent to this worker and not yet finished, in order. */
  assigned: number[];
  /** When the worker last finished a test or got work after idling. */
  progressAt: number;
  /** Kills a worker that makes no progress for --timeout plus a grace. */
  watchdog: Timer | undefined;
  /** Its running test stopped in the debugger: no watchdog until it finishes. */
  inDebugger: boolean;
  ranTests: number;
  /** Why its channel can no longer be trusted, once a frame failed to decode. */
  corruption: string | undefined;
  death: WorkerDeath | undefined;
  socketClosed: boolean;
  graceTimer: Timer | undefined;
}

export class WorkerTable {
  private readonly workers = new Map<number, WorkerState>();
  private nextId = 1;
  /** pytest-timeout applies --timeout per test (its marks may allow longer). */
  pluginOwnsTimeout = false;

  constructor(
    private readonly ports: RunPorts,
    /** Per-test timeout in seconds, or null. */
    private readonly timeout: number | null,
  ) {}

  get size(): number {
    return this.workers.size;
  }

  get ids(): number[] {
    return [...this.workers.keys()];
  }

  all(): IterableIterator<WorkerState> {
    return this.workers.values();
  }

  get(id: number): WorkerState | undefined {
    return this.workers.get(id);
  }

  has(worker: WorkerState): boolean {
    return this.workers.get(worker.id) === worker;
  }

  delete(worker: WorkerState): void {
    this.workers.delete(worker.id);
  }

  /** A new worker, asked of the zygote (which forks it), with its first items if any. */
  spawn(first: readonly number[] = []): WorkerState {
    const id = this.nextId++;
    const worker: WorkerState = {
      id,
      pid: undefined,
      pidFromZygote: false,
      connected: false,
      assigned: [...first],
      progressAt: this.ports.now(),
      watchdog: undefined,
      inDebugger: false,
      ranTests: 0,
      corruption: undefined,
      death: undefined,
      socketClosed: false,
      graceTimer: undefined,
    };
    this.workers.set(id, worker);
    this.ports.events.emit({ event: "worker:spawn-requested", at: this.ports.now(), workerId: id });
    this.ports.toZygote({
      type: "worker:spawn",
      workerId: id,
      ...(first.length > 0 ? { indices: [...first] } : {}),
    });
    return worker;
  }

  signal(worker: WorkerState, signal: "SIGINT" | "SIGKILL"): void {
    if (worker.pid === undefined || worker.death !== undefined) return;
    this.ports.kill(worker.pid, signal);
  }

  /** The worker moved on: restart its watchdog if it has work left. */
  progress(worker: WorkerState): void {
    worker.progressAt = this.ports.now();
    this.stopWatchdog(worker);
    const timeout = this.timeout;
    if (timeout === null || this.pluginOwnsTimeout || worker.inDebugger) return;
    if (worker.assigned.length === 0) return;
    worker.watchdog = this.ports.setTimer(
      // Capped: Node clamps a longer delay to 1 ms (TimeoutOverflowWarning),
      // and the grace would push the largest allowed --timeout over it.
      Math.min(timeout * 1000 + TIMEOUT_GRACE_MS, MAX_TIMER_MS),
      () => this.signal(worker, "SIGKILL"),
    );
  }

  stopWatchdog(worker: WorkerState): void {
    worker.watchdog?.cancel();
    worker.watchdog = undefined;
  }
}
