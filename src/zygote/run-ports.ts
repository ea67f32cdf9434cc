// What the run machine (run-machine.ts) needs from the world and what it is
// told: its ports, its settings, the plan run:ready gives it, its summary.
import type { OutcomeTally } from "../events/outcomes.js";
import type { RunEventSink } from "../events/run-events.js";
import type {
  RunOrder,
  SupervisorToWorker,
  SupervisorToZygote,
  WorkerToSupervisor,
} from "../protocol/messages.js";
import type { DistMode } from "../scheduler/grouping.js";
import type { WorkerDeath } from "./crash-message.js";

/** A worker that outlives its own faulthandler deadline by this much is SIGKILLed. */
export const TIMEOUT_GRACE_MS = 5_000;
/** After this many workers die before running anything, stop replacing them. */
export const MAX_BARREN_DEATHS = 3;
/** A worker whose exit arrives before its connection is waited for this long. */
export const CONNECT_GRACE_MS = 1_000;
/** How long an interrupted worker may take to tear down before it is killed. */
export const INTERRUPT_GRACE_MS = 2_000;

export interface Timer {
  cancel(): void;
}

/** The machine's whole contact with the world. */
export interface RunPorts {
  now(): number;
  setTimer(ms: number, fire: () => void): Timer;
  /** Signal a process; one that is already gone is not an error. */
  kill(pid: number, signal: "SIGINT" | "SIGKILL"): void;
  toZygote(message: SupervisorToZygote, body?: Uint8Array): void;
  toWorker(workerId: number, message: SupervisorToWorker): void;
  /** What faulthandler dumped for a worker that timed out, or "". */
  readStack(workerId: number): string;
  warn(line: string): void;
  events: RunEventSink;
}

export interface RunSettings {
  /** The worker count, or with `workersAuto` the most there may be. */
  workers: number;
  /** `-n auto`: choose the count at start (scheduler/worker-count.ts) and tell the zygote. */
  workersAuto: boolean;
  dist: DistMode;
  /** Per-test timeout in seconds, or null. */
  timeout: number | null;
  /**
   * `kiln agent` (queue/agent-run.ts): the run starts with no work; groups
   * arrive with the queue's jobs (RunMachine.feed), idle workers wait for
   * them, and the run lasts until close().
   */
  openEnded?: boolean;
}

/** What run:ready says, with the durations recorded for the project. */
export interface RunPlan {
  items: string[];
  durations: ReadonlyMap<string, number>;
  /** Why the run must be serial (--pdb, --trace), if it must. */
  serial?: string;
  order?: RunOrder;
  /** pytest-timeout applies --timeout per test (its marks may allow longer). */
  pluginOwnsTimeout: boolean;
}

export interface RunSummary {
  /** Sum of phase durations per nodeid, for longest-first ordering next time. */
  durations: Map<string, number>;
  /** Outcomes of the tests that finished, as pytest's final line counts them. */
  outcomes: OutcomeTally;
  /** Whether collection had finished and tests were handed out (run:ready). */
  running: boolean;
}

/**
 * collecting: pytest collects in the zygote; no workers yet.
 * running: items are handed out; dead workers are replaced.
 * stopping: nothing more is handed out or replaced (-x, Ctrl-C, Exit, a
 *   worker that keeps dying); the workers wind down.
 * finished: every worker is accounted for and the zygote was told run:finish.
 */
export type RunPhase = "collecting" | "running" | "stopping" | "finished";

/** Why the run stops: a wind-down (-x, Exit), an interrupt (Ctrl-C), a kill. */
export type StopKind = "wind-down" | "interrupt" | "kill";

/**
 * What drives one run for the run controller (run-controller.ts): the local
 * run machine (run-machine.ts) by default; `kiln test --queue`'s coordinator
 * (queue/coordinator-run.ts), whose tests run on remote agents, or an
 * agent's open-ended machine (queue/agent-run.ts) otherwise. The worker
 * calls come from the zygote's forked workers, which only a local run has.
 */
export interface RunEngine {
  readonly result: RunSummary;
  start(plan: RunPlan): void;
  stop(): void;
  interrupt(): void;
  kill(): void;
  workerSpawned(workerId: number, pid: number): void;
  workerExited(death: WorkerDeath): void;
  workerConnected(workerId: number, pid: number | null): void;
  workerCorrupted(workerId: number, problem: string): void;
  workerClosed(workerId: number): void;
  workerMessage(workerId: number, message: WorkerToSupervisor, body: Uint8Array): void;
}

/** Makes the engine of a run, given the run's settings, the controller's ports, its scratch dir. */
export type RunEngineFactory = (
  settings: RunSettings,
  ports: RunPorts,
  run: { scratchDir: string },
) => RunEngine;
