// What the escape suite expects of a run (escape-harness.ts runs it): each
// test's outcome from the run record, the attempts whose worker is ended
// rather than the test passing, and the known gaps.
import type { EscapeRun } from "./escape-harness.js";

export type Outcome = "passed" | "failed" | "skipped" | "crashed" | "missing";

/**
 * The attempts whose test does not pass when refused: the worker itself is
 * ended (by the kernel's RLIMIT_CPU, or by the supervisor for what it wrote
 * into its channel) and the test fails with the reason.
 */
export const ENDED: Record<string, { outcome: Outcome; reason: string; in?: "stdout" }> = {
  "test_limits.py::test_cpu_spin": { outcome: "crashed", reason: "killed by signal 24 (SIGXCPU)" },
  "test_protocol.py::test_garbage_on_every_fd": {
    outcome: "crashed",
    reason: "wrote into the worker's channel to Kiln (invalid frame length",
  },
  "test_protocol.py::test_forged_result_for_another_test": {
    outcome: "crashed",
    reason: "it sent a result for test_zz_canary.py::test_canary while it was running",
  },
  // The zygote refuses the body (file) and pytest fails the test with the
  // reason, and the zygote kills the worker; the record keeps the outcome in
  // the forged header, which the supervisor took as the test's own word (a
  // test can fake its own result anyway), and the test queued behind it in
  // that worker is the one the supervisor sees die.
  "test_protocol_body.py::test_forged_body_file": {
    outcome: "passed",
    reason:
      "(a report that could not be read: ValueError: kiln: refused a report body file outside the run's scratch dir",
    in: "stdout",
  },
  "test_protocol_body.py::test_queued_behind_body_file": {
    outcome: "crashed",
    reason: "killed by signal 9 (SIGKILL)",
  },
  "test_protocol_body.py::test_forged_garbage_body": {
    outcome: "passed",
    reason: "(a report that could not be read: ValueError: bad marshal data",
    in: "stdout",
  },
  "test_protocol_body.py::test_queued_behind_garbage_body": {
    outcome: "crashed",
    reason: "killed by signal 9 (SIGKILL)",
  },
};

/** A test's outcome from its phases: crashed, failed, skipped or passed. */
export function outcomeOf(run: EscapeRun, nodeid: string): Outcome {
  const phases = run.phases.get(nodeid);
  if (phases === undefined || phases.length === 0) return "missing";
  if (phases.some((phase) => phase.crashed === true)) return "crashed";
  if (phases.some((phase) => phase.outcome === "failed")) return "failed";
  if (phases.some((phase) => phase.outcome === "skipped")) return "skipped";
  return "passed";
}

/** Each ENDED test's reason is where it should be; returns the missing ones. */
export function missingReasons(run: EscapeRun): string[] {
  return Object.entries(ENDED)
    .filter(([nodeid, { reason, in: where }]) =>
      where === "stdout"
        ? !run.stdout.includes(reason)
        : !failureText(run, nodeid).includes(reason),
    )
    .map(([nodeid, { reason }]) => `${nodeid}: ${reason}`);
}

/** The failure texts of a test, joined: what the run says went wrong. */
export function failureText(run: EscapeRun, nodeid: string): string {
  return (run.phases.get(nodeid) ?? [])
    .map((phase) => phase.longreprtext ?? "")
    .filter((text) => text !== "")
    .join("\n");
}

/** Every node id with its outcome, for readable assertion diffs. */
export function outcomes(run: EscapeRun): Record<string, Outcome> {
  return Object.fromEntries(run.items.map((nodeid) => [nodeid, outcomeOf(run, nodeid)]));
}

/**
 * KNOWN GAPS: attempts strict does not stop yet (SECURITY.md, "Open"). The
 * drivers check them with it.fails, so each one flips the suite red the day
 * it is fixed, to be moved out of this list.
 */
export const KNOWN_GAPS: Record<string, string> = {};

/** Each collected test's outcome when every attempt is refused, known gaps left out. */
export function refusedOutcomes(
  run: EscapeRun,
  gaps: Record<string, string>,
): Record<string, Outcome> {
  return Object.fromEntries(
    run.items
      .filter((nodeid) => gaps[nodeid] === undefined)
      .map((nodeid) => [nodeid, ENDED[nodeid]?.outcome ?? "passed"]),
  );
}

/** outcomes() without the known gaps. */
export function outcomesBesides(
  run: EscapeRun,
  gaps: Record<string, string>,
): Record<string, Outcome> {
  return Object.fromEntries(
    Object.entries(outcomes(run)).filter(([nodeid]) => gaps[nodeid] === undefined),
  );
}
