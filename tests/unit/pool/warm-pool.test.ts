// The bookkeeping both warm pools share (src/pool/warm-pool.ts), with fake
// workers whose readiness and exit the test decides: idle hand-out, waiting
// on an empty pool, refill at half, the ceiling, a pool broken by workers
// dying before they are ready, a whole zygote's workers dropped at once,
// and stop.
import { describe, expect, it } from "vitest";
import { PoolError, WarmPool, type WarmWorker } from "../../../src/pool/warm-pool.js";

class FakeWorker implements WarmWorker {
  readonly forkedAt = 0;
  taken = false;
  released = false;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  becomeReady: () => void = () => {};
  exit: () => void = () => {};
  constructor(readonly id: number) {
    this.ready = new Promise((resolve) => {
      this.becomeReady = resolve;
    });
    this.exited = new Promise((resolve) => {
      this.exit = resolve;
    });
  }
}

class FakePool extends WarmPool<FakeWorker> {
  readonly started: FakeWorker[] = [];
  emptyHits = 0;
  constructor(floor: number, ceiling: number) {
    super({
      profile: "strict",
      sizing: { floor, ceiling },
      psi: () => null,
      observer: {
        spawned: () => {},
        emptyHit: () => {
          this.emptyHits++;
        },
        sized: () => {},
      },
    });
    this.refill();
  }
  protected create(id: number): FakeWorker {
    const worker = new FakeWorker(id);
    this.started.push(worker);
    return worker;
  }
  protected release(worker: FakeWorker): void {
    worker.released = true;
    worker.exit();
  }
  protected startupFailureMessage(): string {
    return "fake workers keep dying";
  }
  zygoteDied(): void {
    this.fail(new PoolError("zygote died"));
    this.forgetAll();
    for (const worker of this.started) worker.exit();
  }
  back(): void {
    this.recovered();
  }
  stop(): void {
    this.stopAccepting();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("WarmPool", () => {
  it("starts the floor, hands out idle workers, and refills when half are left", async () => {
    const pool = new FakePool(4, 10);
    expect(pool.started).toHaveLength(4);
    expect(pool.size).toMatchObject({ idle: 0, starting: 4, busy: 0 });
    for (const w of pool.started) w.becomeReady();
    await settle();
    expect(pool.size).toMatchObject({ idle: 4, starting: 0 });

    const first = await pool.acquire();
    expect(first.taken).toBe(true);
    expect(pool.started).toHaveLength(4); // 3 of 4 idle: above half, nothing forked
    await pool.acquire();
    expect(pool.started).toHaveLength(6); // 2 of 4 idle: back up to the target
    expect(pool.size).toMatchObject({ idle: 2, starting: 2, busy: 2 });
    expect(pool.emptyHits).toBe(0);

    pool.finished(first, 5);
    expect(first.released).toBe(true);
    await settle();
    expect(pool.size.busy).toBe(1);
  });

  it("makes a request wait on an empty pool and gives it the next ready worker", async () => {
    const pool = new FakePool(1, 10);
    const waiting = pool.acquire();
    expect(pool.emptyHits).toBe(1);
    pool.started[0]?.becomeReady();
    const worker = await waiting;
    expect(worker).toBe(pool.started[0]);
    expect(worker.taken).toBe(true);
    expect(pool.size.idle).toBe(0);
  });

  it("never holds more than the ceiling", async () => {
    const pool = new FakePool(2, 3);
    const waits = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
    expect(pool.started).toHaveLength(3);
    for (const w of pool.started) w.becomeReady();
    await Promise.all(waits.slice(0, 3));
    const first = pool.started[0];
    if (!first) throw new Error("no worker");
    pool.finished(first, 1);
    await settle();
    expect(pool.started.length).toBeGreaterThan(3); // room again: the fourth request's worker
    pool.started[3]?.becomeReady();
    await expect(waits[3]).resolves.toBe(pool.started[3]);
  });

  it("breaks after workers die before they are ready, rejecting waiting and new requests", async () => {
    const pool = new FakePool(1, 10);
    const rejected = expect(pool.acquire()).rejects.toThrow("fake workers keep dying");
    for (let i = 0; i < 5; i++) {
      const latest = pool.started.at(-1);
      latest?.exit();
      await settle();
    }
    await rejected;
    expect(pool.healthy).toBe(false);
    expect(pool.problem).toBe("fake workers keep dying");
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolError);
  });

  it("drops a dead zygote's workers without counting them as startup failures", async () => {
    const pool = new FakePool(6, 10);
    pool.started[0]?.becomeReady();
    await settle();
    pool.zygoteDied();
    await settle();
    // Five workers died starting, but with their zygote: no negative counts.
    expect(pool.size).toMatchObject({ idle: 0, starting: 0, busy: 0 });
    expect(pool.problem).toBe("zygote died");
    pool.back();
    expect(pool.healthy).toBe(true);
    expect(pool.size.starting).toBe(6);
  });

  it("rejects waiting requests when stopped", async () => {
    const pool = new FakePool(1, 10);
    const rejected = expect(pool.acquire()).rejects.toThrow("the pool is stopped");
    pool.stop();
    await rejected;
    await expect(pool.acquire()).rejects.toThrow("the pool is stopped");
  });
});
