// What a test's failure says when its worker died under it. Pure, so the
// wording is unit-tested; the zygote turns it into a pytest TestReport.
import { constants } from "node:os";

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, num]) => [num, name]),
);

export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? `signal ${signal}`;
}

export interface WorkerDeath {
  workerId: number;
  pid: number;
  exitCode: number | null;
  signal: number | null;
}

export function describeDeath(death: WorkerDeath): string {
  if (death.signal !== null) {
    return `killed by signal ${death.signal} (${signalName(death.signal)})`;
  }
  return `exited with status ${death.exitCode} (os._exit() or a fatal error in the test)`;
}

export function crashMessage(nodeid: string, death: WorkerDeath): string {
  return (
    `Kiln worker kw${death.workerId} (pid ${death.pid}) crashed while running ${nodeid}: ` +
    `${describeDeath(death)}.\n` +
    "Output captured for this test was lost with the process; the rest of its group " +
    "continues in a fresh worker. Run it alone with `-s` to see its output."
  );
}

export function corruptionMessage(nodeid: string, death: WorkerDeath, problem: string): string {
  return (
    `Kiln stopped worker kw${death.workerId} (pid ${death.pid}) while it ran ${nodeid}: ` +
    `something in the test wrote into the worker's channel to Kiln (${problem}).\n` +
    "Nothing that worker said afterwards could be trusted, so its output for this test " +
    "is lost; the rest of its group continues in a fresh worker. Kiln's channel is a " +
    "socket on a high file descriptor: a test that writes to every open descriptor reaches it."
  );
}

export function timeoutMessage(
  nodeid: string,
  timeoutSeconds: number,
  death: WorkerDeath,
  stack: string,
): string {
  const header =
    `Failed: Timeout >${timeoutSeconds}s: ${nodeid} ran longer than --timeout; ` +
    `Kiln stopped worker kw${death.workerId} (pid ${death.pid}) and the rest of its group ` +
    "continues in a fresh worker.";
  const body = stack.trim()
    ? `Python stack at the moment of the timeout (faulthandler):\n\n${stack.trimEnd()}`
    : "The worker did not answer the timeout, so it was killed and no stack could be dumped.";
  return `${header}\n\n${body}`;
}

/**
 * What the test a worker died under fails with: a timeout when --timeout is
 * set and the worker dumped a stack or ran past it, a corrupted channel when
 * one was seen, else the crash itself.
 */
export function deathMessage(input: {
  nodeid: string;
  death: WorkerDeath;
  timeout: number | null;
  stack: string;
  ranMs: number;
  corruption: string | undefined;
}): string {
  const { nodeid, death, timeout } = input;
  if (timeout !== null && (input.stack.length > 0 || input.ranMs >= timeout * 1000)) {
    return timeoutMessage(nodeid, timeout, death, input.stack);
  }
  if (input.corruption !== undefined) return corruptionMessage(nodeid, death, input.corruption);
  return crashMessage(nodeid, death);
}
