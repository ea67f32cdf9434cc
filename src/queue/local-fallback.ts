// `kiln test --queue --fallback-local`: with no agent (or no Redis), the
// coordinator runs the tests here, with a local run machine
// (run-machine.ts). The worker calls of the run controller come from this
// zygote's forked workers, which only that local run has: they go to it, and
// one that comes without it is a bug.
import type { RunMachine } from "../zygote/run-machine.js";
import type { RunEngine } from "../zygote/run-ports.js";

export abstract class LocalFallback {
  /** The local run, once the coordinator fell back to one. */
  protected local: RunMachine | undefined;

  private localRun(what: string): RunMachine {
    if (this.local === undefined) {
      throw new Error(`this is a bug in kiln: ${what} in a --queue run that has no local workers`);
    }
    return this.local;
  }

  workerSpawned(workerId: number, pid: number): void {
    this.localRun("worker:spawned").workerSpawned(workerId, pid);
  }

  workerExited(death: Parameters<RunEngine["workerExited"]>[0]): void {
    this.localRun("worker:exited").workerExited(death);
  }

  workerConnected(workerId: number, pid: number | null): void {
    this.localRun("a worker connection").workerConnected(workerId, pid);
  }

  workerCorrupted(workerId: number, problem: string): void {
    this.localRun("a corrupted worker").workerCorrupted(workerId, problem);
  }

  workerClosed(workerId: number): void {
    this.localRun("a worker's close").workerClosed(workerId);
  }

  workerMessage(...args: Parameters<RunEngine["workerMessage"]>): void {
    this.localRun("a worker message").workerMessage(...args);
  }
}
