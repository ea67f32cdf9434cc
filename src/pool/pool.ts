// A warm pool of pre-forked exec workers for one profile (DESIGN.md
// section 7): the exec zygote forks them, they attach and sandbox
// themselves, and wait idle. acquire() hands out an idle one (an empty pool
// is counted and the request waits for a fork); each serves one request
// and exits. Sizing is pure (sizing.ts); this file is the bookkeeping.
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AttachServer } from "./attach-server.js";
import type { ExecPool } from "./exec-pool.js";
import { ExecWorker, type WorkerExit } from "./exec-worker.js";
import { ExecZygote, type Profile, poolUser } from "./exec-zygote.js";
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

export interface PoolOptions {
  profile: Profile;
  python: string;
  preload?: string[];
  scratchDir: string;
  sizing?: Partial<SizingConfig>;
  /** RLIMIT_NPROC in the pool's user namespace (strict, hermetic). */
  processes?: number;
  observer?: PoolObserver;
  /** Tests inject a fixed pressure; default /proc/pressure/cpu. */
  psi?: () => number | null;
}

/** How long after a zygote died a new one is started. */
const RESTART_DELAY_MS = 1_000;
/** Workers die before they are ready this many times in a row: the pool is broken. */
const MAX_STARTUP_FAILURES = 5;

export class PoolError extends Error {
  override name = "PoolError";
}

export class Pool implements ExecPool<ExecWorker> {
  readonly runtime = "native" as const;
  private readonly workers = new Map<number, ExecWorker>();
  private readonly idle: ExecWorker[] = [];
  private starting = 0;
  private readonly waiters: { resolve(w: ExecWorker): void; reject(e: Error): void }[] = [];
  private demand: DemandState = initialDemand();
  private nextId = 1;
  private failures = 0;
  private broken: PoolError | undefined;
  private stopped = false;
  private lastTarget: number;
  readonly sizing: SizingConfig;

  private zygoteHandle: ExecZygote | undefined;
  private restartDelayMs = RESTART_DELAY_MS;

  private constructor(
    readonly profile: Profile,
    private readonly attach: AttachServer,
    private readonly options: PoolOptions,
    private readonly socketPath: string,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {
    this.sizing = { ...DEFAULT_SIZING, ...options.sizing };
    this.lastTarget = this.sizing.floor;
  }

  static async start(options: PoolOptions): Promise<Pool> {
    const user = poolUser(options.profile);
    // A directory per pool: the sandbox stages its private /tmp in it, and
    // a pool that runs as another user must own it.
    const dir = join(options.scratchDir, options.profile);
    mkdirSync(dir, { mode: 0o700 });
    if (user) {
      chmodSync(options.scratchDir, 0o711);
      chownSync(dir, user.uid, user.gid);
    }
    const socketPath = join(dir, "attach.sock");
    const attach = await AttachServer.listen(socketPath, user);
    const pool = new Pool(
      options.profile,
      attach,
      { ...options, scratchDir: dir },
      socketPath,
      user,
    );
    try {
      pool.zygoteHandle = await pool.startZygote();
    } catch (error) {
      await attach.close();
      throw error;
    }
    pool.refill();
    return pool;
  }

  private get zygote(): ExecZygote {
    if (!this.zygoteHandle) throw new Error("this is a bug in kiln: a pool without its zygote");
    return this.zygoteHandle;
  }

  private startZygote(): Promise<ExecZygote> {
    const { options } = this;
    return ExecZygote.start(
      {
        python: options.python,
        profile: options.profile,
        preload: options.preload ?? [],
        socketPath: this.socketPath,
        scratchDir: options.scratchDir,
        processes: options.processes,
        user: this.user,
      },
      {
        forked: (id, pid) => {
          const worker = this.workers.get(id);
          if (worker) worker.pid = pid;
        },
        exited: (id, _pid, code, signal) => this.onExit(id, { code, signal }),
        died: (how) => this.zygoteDied(how),
      },
    );
  }

  /**
   * The zygote died (killed, crashed): its workers died with it (each has
   * PR_SET_PDEATHSIG), so the requests on them are answered now, and a new
   * zygote is started after a pause (doubling up to 30 s while it fails).
   * Meanwhile the pool is unhealthy: /readyz says why, requests get 503.
   */
  private zygoteDied(how: string): void {
    this.fail(new PoolError(`the ${this.profile} exec zygote ${how}; restarting it`));
    for (const worker of this.workers.values()) {
      worker.exitedWith({ code: null, signal: 9 });
      if (!worker.taken) worker.close();
      this.attach.forget(worker.id);
    }
    this.workers.clear();
    this.idle.length = 0;
    this.starting = 0;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped) return;
    setTimeout(() => void this.restart(), this.restartDelayMs);
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    try {
      this.zygoteHandle = await this.startZygote();
    } catch (error) {
      this.broken = new PoolError(
        `the ${this.profile} exec zygote could not be restarted: ${(error as Error).message}`,
      );
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
      this.scheduleRestart();
      return;
    }
    if (this.stopped) {
      await this.zygote.stop();
      return;
    }
    this.restartDelayMs = RESTART_DELAY_MS;
    this.broken = undefined;
    this.failures = 0;
    this.refill();
  }

  /** Idle workers, workers starting, and the current target. */
  get size(): { idle: number; starting: number; busy: number; target: number } {
    const busy = this.workers.size - this.idle.length - this.starting;
    return { idle: this.idle.length, starting: this.starting, busy, target: this.lastTarget };
  }

  get healthy(): boolean {
    return this.broken === undefined && !this.stopped;
  }

  get problem(): string | undefined {
    return this.broken?.message;
  }

  /** An idle worker, now or as soon as one is ready. */
  acquire(): Promise<ExecWorker> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.stopped) return Promise.reject(new PoolError("the pool is stopped"));
    this.demand = recordArrival(this.demand, performance.now(), this.sizing);
    const worker = this.idle.shift();
    if (worker) {
      worker.taken = true;
      this.refill();
      return Promise.resolve(worker);
    }
    this.options.observer?.emptyHit(this.profile);
    const waiting = new Promise<ExecWorker>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    this.refill(this.waiters.length);
    return waiting;
  }

  /** After a request: the worker exits by itself; a service time for sizing. */
  finished(worker: ExecWorker, serviceMs: number): void {
    this.demand = recordService(this.demand, serviceMs);
    if (!worker.hasExited) this.zygote.kill(worker.id);
  }

  kill(worker: ExecWorker): void {
    this.zygote.kill(worker.id);
  }

  expectAttach(worker: ExecWorker, nonce: string): void {
    this.attach.expect(worker.id, nonce, (stream, attached) => worker.attach(stream, attached));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new PoolError("the pool is stopped"));
    await this.zygoteHandle?.stop();
    // The zygote killed them all; requests still waiting on one get their answer now.
    for (const worker of this.workers.values()) {
      if (!worker.hasExited) worker.exitedWith({ code: null, signal: 9 });
      worker.close();
    }
    await this.attach.close();
  }

  private refill(atLeast = 0): void {
    if (this.stopped || this.broken) return;
    const held = this.idle.length + this.starting;
    const psi = (this.options.psi ?? readCpuPressure)();
    const decision = targetSize(
      { demand: this.demand, now: performance.now(), current: held, psi },
      this.sizing,
    );
    this.lastTarget = decision.target;
    const wanted = Math.max(refillCount(held, decision.target), atLeast - this.starting);
    const room = this.sizing.ceiling - this.workers.size;
    for (let i = 0; i < Math.min(wanted, room); i++) this.spawn();
    this.options.observer?.sized(
      this.profile,
      this.idle.length + this.starting,
      decision.target,
      psi,
    );
  }

  private spawn(): void {
    const worker = new ExecWorker(this.nextId++, this.profile);
    const nonce = randomBytes(16).toString("hex");
    this.workers.set(worker.id, worker);
    this.starting++;
    this.expectAttach(worker, nonce);
    let counted = true;
    worker.ready.then(() => {
      if (!counted) return;
      counted = false;
      this.starting--;
      this.failures = 0;
      this.options.observer?.spawned(this.profile, (performance.now() - worker.forkedAt) / 1000);
      const waiter = this.waiters.shift();
      if (waiter) {
        worker.taken = true;
        waiter.resolve(worker);
      } else this.idle.push(worker);
    });
    worker.exited.then(() => {
      if (!counted) return;
      counted = false; // died before it was ready
      this.starting--;
      this.failures++;
      if (this.failures >= MAX_STARTUP_FAILURES) {
        this.fail(new PoolError(`${this.profile} exec workers keep dying before they are ready`));
      } else if (this.waiters.length) {
        this.refill(this.waiters.length);
      }
    });
    this.zygote.fork(worker.id, nonce);
  }

  private onExit(id: number, exit: WorkerExit): void {
    const worker = this.workers.get(id);
    if (!worker) return;
    this.workers.delete(id);
    this.attach.forget(id);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    worker.exitedWith(exit);
    // A busy worker's output may still be in flight: its request closes it.
    if (!worker.taken) worker.close();
    if (!this.stopped) this.refill();
  }

  private fail(error: PoolError): void {
    if (this.stopped) return;
    this.broken = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
