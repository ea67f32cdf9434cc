// Pool sizing with a fake clock: Little's law between floor and ceiling,
// USAP refill at half, no growth under CPU pressure, demand alone without PSI.
import { describe, expect, it } from "vitest";
import {
  currentRate,
  type DemandState,
  initialDemand,
  recordArrival,
  recordService,
  refillCount,
  type SizingConfig,
  targetSize,
} from "../../../src/pool/sizing.js";

const cfg: SizingConfig = { floor: 2, ceiling: 20, psiThreshold: 50, windowMs: 1_000 };

/** `rate` arrivals per second for `seconds`, each served in `serviceMs`. */
function steady(
  rate: number,
  seconds: number,
  serviceMs: number,
): { demand: DemandState; now: number } {
  let demand = initialDemand();
  let now = 0;
  for (let i = 0; i < rate * seconds; i++) {
    now = (i * 1000) / rate;
    demand = recordService(recordArrival(demand, now, cfg), serviceMs);
  }
  return { demand, now };
}

describe("demand", () => {
  it("converges on the arrival rate and the mean service time", () => {
    const { demand, now } = steady(100, 10, 40);
    expect(currentRate(demand, now, cfg)).toBeCloseTo(100, 0);
    expect(demand.serviceMs).toBeCloseTo(40, 5);
  });

  it("decays when requests stop coming", () => {
    const { demand, now } = steady(100, 10, 40);
    expect(currentRate(demand, now + 5_000, cfg)).toBeLessThan(1);
  });
});

describe("targetSize", () => {
  it("is the floor with no traffic", () => {
    expect(targetSize({ demand: initialDemand(), now: 0, current: 0, psi: null }, cfg)).toEqual({
      target: 2,
      heldByPressure: false,
    });
  });

  it("is rate x service time (plus one) between floor and ceiling", () => {
    // 100/s x 40 ms = 4 in service
    const busy = steady(100, 10, 40);
    expect(targetSize({ ...busy, current: 2, psi: null }, cfg).target).toBe(5);
    const heavy = steady(100, 10, 500);
    expect(targetSize({ ...heavy, current: 2, psi: null }, cfg).target).toBe(20);
  });

  it("does not grow while CPU pressure is above the threshold, but keeps what it has", () => {
    const busy = steady(100, 10, 40);
    const held = targetSize({ ...busy, current: 3, psi: 80 }, cfg);
    expect(held).toEqual({ target: 3, heldByPressure: true });
    expect(targetSize({ ...busy, current: 3, psi: 10 }, cfg)).toEqual({
      target: 5,
      heldByPressure: false,
    });
  });

  it("sizes from demand alone where PSI is missing", () => {
    const busy = steady(100, 10, 40);
    expect(targetSize({ ...busy, current: 0, psi: null }, cfg).target).toBe(5);
  });

  it("refuses an impossible configuration as a bug", () => {
    expect(() =>
      targetSize(
        { demand: initialDemand(), now: 0, current: 0, psi: null },
        { ...cfg, ceiling: 1, floor: 3 },
      ),
    ).toThrow(/bug in kiln/);
  });
});

describe("refillCount (USAP: refill when half empty)", () => {
  it("forks nothing while more than half the target is held", () => {
    expect(refillCount(6, 10)).toBe(0);
    expect(refillCount(10, 10)).toBe(0);
  });

  it("forks back up to the target once half or fewer are left", () => {
    expect(refillCount(5, 10)).toBe(5);
    expect(refillCount(0, 10)).toBe(10);
    expect(refillCount(1, 2)).toBe(1);
  });
});
