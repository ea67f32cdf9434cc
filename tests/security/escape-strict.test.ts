// The escape suite under `--isolate strict` (SECURITY.md has the table):
// every attempt in tests/fixtures/security/escape runs in a strict worker
// and must be refused, the run must go on to the end, and from outside
// nothing the attempts aimed at may have been reached.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  breaches,
  type EscapeRun,
  type Plants,
  plant,
  runEscape,
  type Servers,
  startServers,
} from "./escape-harness.js";
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
  let plants: Plants;
  let servers: Servers;
  let run: EscapeRun;

  beforeAll(async () => {
    plants = plant();
    servers = await startServers();
    run = await runEscape(
      [
        "--isolate",
        "strict",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-m",
        "not stackfile and not alone",
      ],
      {
        plants,
        servers,
      },
    );
  }, 300_000);

  afterAll(async () => {
    plants?.remove();
    await servers?.close();
  });

  it("runs every attempt", () => {
    expect(run.stderr).not.toContain("Traceback");
    expect(run.items.length, run.stdout + run.stderr).toBeGreaterThan(60);
    for (const nodeid of Object.keys(ENDED)) expect(run.items).toContain(nodeid);
  });

  it("refuses every attempt", () => {
    expect(outcomesBesides(run, GAPS), run.stdout).toEqual(refusedOutcomes(run, GAPS));
  });

  it("ends the workers it must, each test saying why", () => {
    expect(missingReasons(run), run.stdout).toEqual([]);
  });

  it("keeps the result the forged frame lied about as the test's own, once", () => {
    const phases = run.phases.get("test_zz_canary.py::test_canary") ?? [];
    expect(phases.map((phase) => `${phase.when}:${phase.outcome}`)).toEqual([
      "setup:passed",
      "call:passed",
      "teardown:passed",
    ]);
    // (The frame's bytes may be on the terminal: the forger wrote them to
    // every socket it had, Kiln's stdout among them; pytest's report is what counts.)
    expect(run.stdout).not.toMatch(/FAILED test_zz_canary|_ test_canary _/);
  });

  // Flips once fixed: then move the case out of KNOWN_GAPS (escape-outcomes.ts).
  it.fails.for(Object.entries(GAPS))("refuses %s (known gap: %s)", ([nodeid]) => {
    expect(outcomeOf(run, nodeid), failureText(run, nodeid)).toBe("passed");
  });

  it("lets nothing through to the targets outside", () => {
    expect(breaches(plants, servers)).toEqual([]);
  });

  it("goes on to the end: the supervisor and the zygote outlive every attempt", () => {
    // Killed, the supervisor would end by a signal; the zygote, with no
    // pytest summary and no zygote:exited 0 in the record.
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/\d+ passed/);
    expect(run.workerEvents).toContainEqual(
      expect.objectContaining({ event: "zygote:exited", exitCode: 1 }),
    );
    expect(run.workerEvents.at(-1)).toEqual(expect.objectContaining({ event: "run:finished" }));
    expect(outcomeOf(run, "test_zz_canary.py::test_canary")).toBe("passed");
  });
});

describe("a timed-out strict worker's stack dump", () => {
  let plants: Plants;
  let servers: Servers;
  let run: EscapeRun;
  const nodeid = "test_protocol.py::test_stack_file_swapped_for_a_link_to_the_secret";

  beforeAll(async () => {
    plants = plant();
    servers = await startServers();
    // Kiln's own watchdog (-p no:timeout: pytest-timeout would take --timeout).
    run = await runEscape(
      ["--isolate", "strict", "-n", "1", "-p", "no:cacheprovider", "-p", "no:timeout"].concat([
        "--timeout",
        "3",
        "-m",
        "stackfile",
      ]),
      { plants, servers },
    );
  }, 120_000);

  afterAll(async () => {
    plants?.remove();
    await servers?.close();
  });

  it("is not read through a link the test put in its place", () => {
    expect(run.items).toEqual([nodeid]);
    expect(outcomeOf(run, nodeid)).toBe("crashed");
    expect(failureText(run, nodeid)).toContain("Timeout >3s");
    expect(run.stdout + run.stderr).not.toContain(plants.secretText.trim());
  });
});

describe("a fork bomb under strict, alone in its run", () => {
  // The processes limit is the run's (RLIMIT_NPROC per user, pid_max per
  // PID namespace), not each worker's: run beside the other attempts, the
  // bomb made their forks fail too. Alone, it must be stopped.
  let plants: Plants;
  let servers: Servers;
  let run: EscapeRun;

  beforeAll(async () => {
    plants = plant();
    servers = await startServers();
    run = await runEscape(
      ["--isolate", "strict", "-n", "2", "-p", "no:cacheprovider", "-m", "alone"],
      { plants, servers },
    );
  }, 120_000);

  afterAll(async () => {
    plants?.remove();
    await servers?.close();
  });

  it("is stopped before 600 forks", () => {
    expect(run.items).toEqual(["test_limits.py::test_fork_bomb"]);
    expect(outcomes(run), run.stdout).toEqual({ "test_limits.py::test_fork_bomb": "passed" });
    expect(run.code).toBe(0);
  });
});
