// The escape suite under `--isolate strict` (SECURITY.md has the table):
// every attempt in tests/fixtures/security/escape runs in a strict worker
// and must be refused, the run must go on to the end, and from outside
// nothing the attempts aimed at may have been reached.
import { describe, expect, it } from "vitest";
import { breaches, escapeArgs, escapeSession } from "./escape-harness.js";
import {
  ENDED,
  failureText,
  KNOWN_GAPS,
  missingReasons,
  outcomeOf,
  outcomes,
  outcomesBesides,
  refusedOutcomes,
} from "./escape-outcomes.js";

const GAPS: Record<string, string> = KNOWN_GAPS;

describe("the escape suite under --isolate strict", () => {
  const session = escapeSession([escapeArgs("strict", "not stackfile and not alone")]);

  it("runs every attempt", () => {
    expect(session.run.stderr).not.toContain("Traceback");
    expect(session.run.items.length, session.run.stdout + session.run.stderr).toBeGreaterThan(60);
    for (const nodeid of Object.keys(ENDED)) expect(session.run.items).toContain(nodeid);
  });

  it("refuses every attempt", () => {
    expect(outcomesBesides(session.run, GAPS), session.run.stdout).toEqual(
      refusedOutcomes(session.run, GAPS),
    );
  });

  it("ends the workers it must, each test saying why", () => {
    expect(missingReasons(session.run), session.run.stdout).toEqual([]);
  });

  it("keeps the result the forged frame lied about as the test's own, once", () => {
    const phases = session.run.phases.get("test_zz_canary.py::test_canary") ?? [];
    expect(phases.map((phase) => `${phase.when}:${phase.outcome}`)).toEqual([
      "setup:passed",
      "call:passed",
      "teardown:passed",
    ]);
    // (The frame's bytes may be on the terminal: the forger wrote them to
    // every socket it had, Kiln's stdout among them; pytest's report is what counts.)
    expect(session.run.stdout).not.toMatch(/FAILED test_zz_canary|_ test_canary _/);
  });

  // Flips once fixed: then move the case out of KNOWN_GAPS (escape-outcomes.ts).
  it.fails.for(Object.entries(GAPS))("refuses %s (known gap: %s)", ([nodeid]) => {
    expect(outcomeOf(session.run, nodeid), failureText(session.run, nodeid)).toBe("passed");
  });

  it("lets nothing through to the targets outside", () => {
    expect(breaches(session.plants, session.servers)).toEqual([]);
  });

  it("goes on to the end: the supervisor and the zygote outlive every attempt", () => {
    // Killed, the supervisor would end by a signal; the zygote, with no
    // pytest summary and no zygote:exited 0 in the record.
    expect(session.run.signal).toBeNull();
    expect(session.run.code).toBe(1);
    expect(session.run.stdout).toMatch(/\d+ passed/);
    expect(session.run.workerEvents).toContainEqual(
      expect.objectContaining({ event: "zygote:exited", exitCode: 1 }),
    );
    expect(session.run.workerEvents.at(-1)).toEqual(
      expect.objectContaining({ event: "run:finished" }),
    );
    expect(outcomeOf(session.run, "test_zz_canary.py::test_canary")).toBe("passed");
  });
});

describe("a timed-out strict worker's stack dump", () => {
  const nodeid = "test_protocol.py::test_stack_file_swapped_for_a_link_to_the_secret";
  // Kiln's own watchdog (-p no:timeout: pytest-timeout would take --timeout).
  const session = escapeSession(
    [
      ["--isolate", "strict", "-n", "1", "-p", "no:cacheprovider", "-p", "no:timeout"].concat([
        "--timeout",
        "3",
        "-m",
        "stackfile",
      ]),
    ],
    { timeoutMs: 120_000 },
  );

  it("is not read through a link the test put in its place", () => {
    expect(session.run.items).toEqual([nodeid]);
    expect(outcomeOf(session.run, nodeid)).toBe("crashed");
    expect(failureText(session.run, nodeid)).toContain("Timeout >3s");
    expect(session.run.stdout + session.run.stderr).not.toContain(session.plants.secretText.trim());
  });
});

describe("a fork bomb under strict, alone in its run", () => {
  // The processes limit is the run's (RLIMIT_NPROC per user, pid_max per
  // PID namespace), not each worker's: run beside the other attempts, the
  // bomb made their forks fail too. Alone, it must be stopped.
  const session = escapeSession([escapeArgs("strict", "alone")], { timeoutMs: 120_000 });

  it("is stopped before 600 forks", () => {
    expect(session.run.items).toEqual(["test_limits.py::test_fork_bomb"]);
    expect(outcomes(session.run), session.run.stdout).toEqual({
      "test_limits.py::test_fork_bomb": "passed",
    });
    expect(session.run.code).toBe(0);
  });
});
