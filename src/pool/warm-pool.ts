// The bookkeeping every warm pool shares, whatever its workers are
// (pool.ts: pre-forked processes; src/pyodide/pyodide-pool.ts: Wasm
// instances in threads): idle workers, workers starting, requests waiting
// for one, demand for sizing (sizing.ts: Little's law, USAP refill at half,
// no growth under CPU pressure), and a pool that breaks when its workers
// keep dying before they are ready. A subclass only says how to start a
// worker (create) and what to do with one after its request (release).
import type { Profile } from "./exec-zygote.js";
import { readCpuPressure } from "./psi.js";
import {
  DEFAULT_SIZING,
  type DemandState,
  initialDemand,
  recordArrival,
  recordService,
  refillCount,
  type SizingConfig,
  targetSize,
} from "./sizing.js";

export interface PoolObserver {
  spawned(profile: Profile, seconds: number): void;
  emptyHit(profile: Profile): void;
  sized(profile: Profile, size: number, target: number, psi: number | null): void;
}

export class PoolError extends Error {
  override name = "PoolError";
}

/** What the bookkeeping needs from a worker. */
export interface WarmWorker {
  readonly id: number;
  /** performance.now() when it was started: the spawn latency's origin. */
  readonly forkedAt: number;
  /** Handed to a request. */
  taken: boolean;
  /** Resolves when it can take a request. */
  readonly ready: Promise<unknown>;
  /** Resolves when it is gone (before or after being ready). */
  readonly exited: Promise<unknown>;
}

export interface WarmPoolOptions {
  profile: Profile;
  sizing?: Partial<SizingConfig>;
  observer?: PoolObserver;
  /** Tests inject a fixed pressure; default /proc/pressure/cpu. */
  psi?: () => number | null;
  /** Tests inject a clock; default performance.now(). */
  now?: () => number;
}

/** Workers die before they are ready this many times in a row: the pool is broken. */
export const MAX_STARTUP_FAILURES = 5;

export abstract class WarmPool<W extends WarmWorker> {
  readonly profile: Profile;
  readonly sizing: SizingConfig;
  /** Every worker held: starting, idle or busy. */
  private readonly live = new Set<W>();
  private readonly idle: W[] = [];
  private starting = 0;
  private readonly waiters: { resolve(w: W): void; reject(e: Error): void }[] = [];
  private demand: DemandState = initialDemand();
  private nextId = 1;
  private failures = 0;
  /**
   * Bumped by forgetAll(): the ready/exited callbacks of workers started
   * before it find a different generation and leave the counts alone (a
   * dead zygote takes all its workers at once; they are not startup failures).
   */
  private generation = 0;
  private broken: PoolError | undefined;
  protected stopped = false;
  private lastTarget: number;
  private readonly now: () => number;

  protected constructor(private readonly base: WarmPoolOptions) {
    this.profile = base.profile;
    this.sizing = { ...DEFAULT_SIZING, ...base.sizing };
    this.lastTarget = this.sizing.floor;
    this.now = base.now ?? (() => performance.now());
  }

  /** Start one worker with this id (its ready/exited are tracked here). */
  protected abstract create(id: number): W;
  /** After its request: make sure it goes away. */
  protected abstract release(worker: W): void;
  /** Said when workers keep dying before they are ready. */
  protected abstract startupFailureMessage(): string;

  /** Idle workers, workers starting, busy ones, and the current target. */
  get size(): { idle: number; starting: number; busy: number; target: number } {
    const busy = this.live.size - this.idle.length - this.starting;
    return { idle: this.idle.length, starting: this.starting, busy, target: this.lastTarget };
  }

  get healthy(): boolean {
    return this.broken === undefined && !this.stopped;
  }

  get problem(): string | undefined {
    return this.broken?.message;
  }

  /** An idle worker, now or as soon as one is ready. */
  acquire(): Promise<W> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.stopped) return Promise.reject(new PoolError("the pool is stopped"));
    this.demand = recordArrival(this.demand, this.now(), this.sizing);
    const worker = this.idle.shift();
    if (worker) {
      worker.taken = true;
      this.refill();
      return Promise.resolve(worker);
    }
    this.base.observer?.emptyHit(this.profile);
    const waiting = new Promise<W>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    this.refill(this.waiters.length);
    return waiting;
  }

  /** After a request: a service time for sizing, and the worker goes. */
  finished(worker: W, serviceMs: number): void {
    this.demand = recordService(this.demand, serviceMs);
    this.release(worker);
  }

  /** Stop handing out workers; requests still waiting get an error now. */
  protected stopAccepting(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new PoolError("the pool is stopped"));
    return true;
  }

  /** Every worker held (to stop them). */
  protected get workers(): ReadonlySet<W> {
    return this.live;
  }

  /** Break the pool: requests waiting and arriving get this error. */
  protected fail(error: PoolError): void {
    if (this.stopped) return;
    this.broken = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** The pool works again (a new zygote): forget the failures and refill. */
  protected recovered(): void {
    this.broken = undefined;
    this.failures = 0;
    this.refill();
  }

  /** All workers are gone at once (their zygote died): drop them uncounted. */
  protected forgetAll(): void {
    this.generation++;
    this.live.clear();
    this.idle.length = 0;
    this.starting = 0;
  }

  protected refill(atLeast = 0): void {
    if (this.stopped || this.broken) return;
    const held = this.idle.length + this.starting;
    const psi = (this.base.psi ?? readCpuPressure)();
    const decision = targetSize(
      { demand: this.demand, now: this.now(), current: held, psi },
      this.sizing,
    );
    this.lastTarget = decision.target;
    const wanted = Math.max(refillCount(held, decision.target), atLeast - this.starting);
    const room = this.sizing.ceiling - this.live.size;
    for (let i = 0; i < Math.min(wanted, room); i++) this.spawn();
    this.base.observer?.sized(this.profile, this.idle.length + this.starting, decision.target, psi);
  }

  private spawn(): void {
    const generation = this.generation;
    const worker = this.create(this.nextId++);
    this.live.add(worker);
    this.starting++;
    let starting = true;
    const current = () => generation === this.generation;
    worker.ready.then(() => {
      if (!starting || !current()) return;
      starting = false;
      this.starting--;
      this.failures = 0;
      this.base.observer?.spawned(this.profile, (this.now() - worker.forkedAt) / 1000);
      const waiter = this.waiters.shift();
      if (waiter) {
        worker.taken = true;
        waiter.resolve(worker);
      } else this.idle.push(worker);
    });
    worker.exited.then(() => {
      if (!current()) return;
      this.live.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      if (!starting) {
        this.refill();
        return;
      }
      starting = false; // died before it was ready
      this.starting--;
      this.failures++;
      if (this.failures >= MAX_STARTUP_FAILURES) {
        this.fail(new PoolError(this.startupFailureMessage()));
      } else if (this.waiters.length) {
        this.refill(this.waiters.length);
      }
    });
  }
}
