// How many pre-forked workers a pool keeps (DESIGN.md section 7), as pure
// functions of what was observed, so they are tested with a fake clock.
//
// Little's law: the mean number of requests in service is the arrival rate
// times the mean service time (L = λW). A pool that holds that many idle
// workers (plus one for bursts) rarely makes a request wait for a fork.
// It refills Android-USAP style: nothing is forked while more than half the
// target is idle; once half or fewer are left, it forks back up to the
// target in one go (fewer, smaller wake-ups than one fork per request). It
// does not grow while the CPU is under pressure (PSI "some avg10" above a
// threshold): forking more workers there only adds to the queue the kernel
// already reports. Where PSI is missing, the size follows demand alone.

export interface SizingConfig {
  /** Fewest idle workers to keep, even with no traffic. */
  floor: number;
  /** Most workers (idle + starting) the pool may hold. */
  ceiling: number;
  /** PSI "some avg10" (percent) above which the pool does not grow. */
  psiThreshold: number;
  /** Time constant of the moving averages (ms). */
  windowMs: number;
}

export const DEFAULT_SIZING: SizingConfig = {
  floor: 2,
  ceiling: 32,
  psiThreshold: 80,
  windowMs: 10_000,
};

/** Exponentially weighted arrival rate and service time. */
export interface DemandState {
  /** Requests per second. */
  rate: number;
  /** Mean service time of a request (ms, fork to exit). */
  serviceMs: number;
  /** When the last arrival was counted (ms, the caller's clock). */
  lastArrival: number | null;
}

export function initialDemand(): DemandState {
  return { rate: 0, serviceMs: 0, lastArrival: null };
}

/**
 * One arrival at `now`: the instantaneous rate 1/gap blended in with weight
 * 1 - e^(-gap/window), so a burst raises the rate quickly and a quiet pool
 * decays towards zero over a few windows.
 */
export function recordArrival(state: DemandState, now: number, cfg: SizingConfig): DemandState {
  if (state.lastArrival === null) return { ...state, lastArrival: now };
  const gap = Math.max(now - state.lastArrival, 0.1);
  const weight = 1 - Math.exp(-gap / cfg.windowMs);
  const instant = 1000 / gap;
  return { ...state, rate: state.rate + weight * (instant - state.rate), lastArrival: now };
}

/** One finished request that took `ms`; the first sets the mean outright. */
export function recordService(state: DemandState, ms: number): DemandState {
  const serviceMs = state.serviceMs === 0 ? ms : state.serviceMs * 0.9 + ms * 0.1;
  return { ...state, serviceMs };
}

/** The rate as seen at `now`: with no arrival for a while it decays. */
export function currentRate(state: DemandState, now: number, cfg: SizingConfig): number {
  if (state.lastArrival === null) return 0;
  const quiet = Math.max(now - state.lastArrival, 0);
  return state.rate * Math.exp(-quiet / cfg.windowMs);
}

export interface SizingInput {
  demand: DemandState;
  now: number;
  /** Workers the pool holds now (idle + starting). */
  current: number;
  /** PSI cpu "some avg10", or null where /proc/pressure/cpu is missing. */
  psi: number | null;
}

export interface SizingDecision {
  target: number;
  /** The target wanted more than `current` but CPU pressure held it. */
  heldByPressure: boolean;
}

export function targetSize(input: SizingInput, cfg: SizingConfig): SizingDecision {
  if (cfg.floor < 0 || cfg.ceiling < Math.max(cfg.floor, 1)) {
    throw new Error(`this is a bug in kiln: pool floor ${cfg.floor} / ceiling ${cfg.ceiling}`);
  }
  const inService = currentRate(input.demand, input.now, cfg) * (input.demand.serviceMs / 1000);
  const wanted = Math.min(cfg.ceiling, Math.max(cfg.floor, Math.ceil(inService) + 1));
  if (input.psi !== null && input.psi > cfg.psiThreshold && wanted > input.current) {
    return { target: Math.max(input.current, Math.min(cfg.floor, wanted)), heldByPressure: true };
  }
  return { target: wanted, heldByPressure: false };
}

/** USAP refill: how many to fork now (0 while more than half the target is idle or starting). */
export function refillCount(held: number, target: number): number {
  if (held > target / 2) return 0;
  return Math.max(0, target - held);
}
