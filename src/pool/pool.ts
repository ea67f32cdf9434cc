// A warm pool of pre-forked exec workers for one profile (DESIGN.md
// section 7): the exec zygote forks them, they attach and sandbox
// themselves, and wait idle. acquire() hands out an idle one (an empty pool
// is counted and the request waits for a fork); each serves one request
// and exits. Sizing is pure (sizing.ts), the counting shared (warm-pool.ts);
// this file starts workers through the zygote and restarts a dead zygote.
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AttachServer } from "./attach-server.js";
import type { ExecPool } from "./exec-pool.js";
import { ExecWorker, type WorkerExit } from "./exec-worker.js";
import { ExecZygote, type Profile, poolUser } from "./exec-zygote.js";
import type { SizingConfig } from "./sizing.js";
import { PoolError, type PoolObserver, WarmPool } from "./warm-pool.js";

export { PoolError, type PoolObserver } from "./warm-pool.js";

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

export class Pool extends WarmPool<ExecWorker> implements ExecPool<ExecWorker> {
  readonly runtime = "native" as const;
  /** By id: the zygote reports forks and exits by id. */
  private readonly byId = new Map<number, ExecWorker>();
  private zygoteHandle: ExecZygote | undefined;
  private restartDelayMs = RESTART_DELAY_MS;

  private constructor(
    private readonly attach: AttachServer,
    private readonly options: PoolOptions,
    private readonly socketPath: string,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {
    super(options);
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
    const pool = new Pool(attach, { ...options, scratchDir: dir }, socketPath, user);
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
          const worker = this.byId.get(id);
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
    this.forgetAll();
    for (const worker of this.byId.values()) {
      worker.exitedWith({ code: null, signal: 9 });
      if (!worker.taken) worker.close();
      this.attach.forget(worker.id);
    }
    this.byId.clear();
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
      this.fail(
        new PoolError(
          `the ${this.profile} exec zygote could not be restarted: ${(error as Error).message}`,
        ),
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
    this.recovered();
  }

  protected release(worker: ExecWorker): void {
    // It exits by itself after its request; one that lingers is killed.
    if (!worker.hasExited) this.zygote.kill(worker.id);
  }

  protected startupFailureMessage(): string {
    return `${this.profile} exec workers keep dying before they are ready`;
  }

  kill(worker: ExecWorker): void {
    this.zygote.kill(worker.id);
  }

  expectAttach(worker: ExecWorker, nonce: string): void {
    this.attach.expect(worker.id, nonce, (stream, attached) => worker.attach(stream, attached));
  }

  async stop(): Promise<void> {
    if (!this.stopAccepting()) return;
    await this.zygoteHandle?.stop();
    // The zygote killed them all; requests still waiting on one get their answer now.
    for (const worker of this.byId.values()) {
      if (!worker.hasExited) worker.exitedWith({ code: null, signal: 9 });
      worker.close();
    }
    await this.attach.close();
  }

  protected create(id: number): ExecWorker {
    const worker = new ExecWorker(id, this.profile);
    const nonce = randomBytes(16).toString("hex");
    this.byId.set(id, worker);
    this.expectAttach(worker, nonce);
    this.zygote.fork(id, nonce);
    return worker;
  }

  private onExit(id: number, exit: WorkerExit): void {
    const worker = this.byId.get(id);
    if (!worker) return;
    this.byId.delete(id);
    this.attach.forget(id);
    // The pool's own counts follow from worker.exited (warm-pool.ts).
    worker.exitedWith(exit);
    // A busy worker's output may still be in flight: its request closes it.
    if (!worker.taken) worker.close();
  }
}
