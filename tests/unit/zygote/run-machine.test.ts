// The run machine driven by fake workers, a fake zygote and a fake clock, as
// pytest-xdist tests its schedulers with fake nodes: every transition,
// including the crash paths no e2e test can time reliably.
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../../src/events/run-events.js";
import type {
  ReportMeta,
  SupervisorToWorker,
  SupervisorToZygote,
} from "../../../src/protocol/messages.js";
import { RunMachine } from "../../../src/zygote/run-machine.js";
import {
  CONNECT_GRACE_MS,
  INTERRUPT_GRACE_MS,
  type RunPlan,
  type RunPorts,
  type RunSettings,
  TIMEOUT_GRACE_MS,
} from "../../../src/zygote/run-ports.js";

interface FakeTimer {
  at: number;
  fire: () => void;
  cancelled: boolean;
}

/** The world the machine sees, recorded. Worker n has pid 1000 + n. */
class World implements RunPorts {
  time = 0;
  timers: FakeTimer[] = [];
  kills: [number, string][] = [];
  zygote: SupervisorToZygote[] = [];
  workers: [number, SupervisorToWorker][] = [];
  stacks = new Map<number, string>();
  warnings: string[] = [];
  log: RunEvent[] = [];
  events = { emit: (event: RunEvent) => this.log.push(event) };

  now = () => this.time;
  setTimer = (ms: number, fire: () => void) => {
    const timer = { at: this.time + ms, fire, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  };
  kill = (pid: number, signal: "SIGINT" | "SIGKILL") => this.kills.push([pid, signal]);
  toZygote = (message: SupervisorToZygote) => this.zygote.push(message);
  toWorker = (workerId: number, message: SupervisorToWorker) =>
    this.workers.push([workerId, message]);
  readStack = (workerId: number) => this.stacks.get(workerId) ?? "";
  warn = (line: string) => this.warnings.push(line);

  /** Moves the clock, firing the timers that come due, in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.time = due.at;
      due.fire();
    }
    this.time = until;
  }

  spawned(): number[] {
    return this.zygote.flatMap((m) => (m.type === "worker:spawn" ? [m.workerId] : []));
  }

  crashed(): { nodeid: string; message: string }[] {
    return this.zygote.flatMap((m) => (m.type === "test:crashed" ? [m] : []));
  }

  finishes(): number {
    return this.zygote.filter((m) => m.type === "run:finish").length;
  }

  lastTo(workerId: number): SupervisorToWorker | undefined {
    return this.workers.filter(([id]) => id === workerId).at(-1)?.[1];
  }
}

const passed: ReportMeta[] = [
  { when: "setup", outcome: "passed", duration: 0.001, wasxfail: false },
  { when: "call", outcome: "passed", duration: 0.002, wasxfail: false },
  { when: "teardown", outcome: "passed", duration: 0.001, wasxfail: false },
];

function items(n: number, file = "test_a.py"): string[] {
  return Array.from({ length: n }, (_, i) => `${file}::test_${i}`);
}

function plan(names: string[], extra: Partial<RunPlan> = {}): RunPlan {
  return { items: names, durations: new Map(), pluginOwnsTimeout: false, ...extra };
}

function setup(settings: Partial<RunSettings> = {}) {
  const world = new World();
  const machine = new RunMachine(
    { workers: 1, workersAuto: false, dist: "test", timeout: null, ...settings },
    world,
  );
  const pid = (id: number) => 1000 + id;
  const up = (id: number) => {
    machine.workerSpawned(id, pid(id));
    machine.workerConnected(id, pid(id));
  };
  const started = new Set<number>();
  /**
   * The worker's next group: first the one its spawn carried (as a real
   * worker starts with it), then what it asks for. Returns the node ids.
   */
  const want = (id: number): string[] => {
    const spawn = world.zygote.find((m) => m.type === "worker:spawn" && m.workerId === id);
    if (!started.has(id) && spawn?.type === "worker:spawn" && spawn.indices !== undefined) {
      started.add(id);
      return spawn.indices.map((i) => names[i] as string);
    }
    started.add(id);
    machine.workerMessage(id, { type: "work:wanted" }, Buffer.alloc(0));
    const reply = world.lastTo(id);
    return reply?.type === "work" ? reply.indices.map((i) => names[i] as string) : [];
  };
  const finish = (id: number, nodeid: string, reports = passed) =>
    machine.workerMessage(
      id,
      { type: "test:finished", nodeid, location: [], reports, format: "marshal" },
      Buffer.alloc(0),
    );
  const exit = (id: number, exitCode: number | null, signal: number | null = null) => {
    machine.workerExited({ workerId: id, pid: pid(id), exitCode, signal });
    machine.workerClosed(id);
  };
  let names: string[] = [];
  const start = (p: RunPlan) => {
    names = p.items;
    machine.start(p);
  };
  return { world, machine, up, want, finish, exit, start, pid };
}

describe("a run without trouble", () => {
  it("hands out every item, relays each report, and finishes once", () => {
    const { world, machine, up, want, finish, exit, start } = setup({ workers: 2 });
    start(plan(items(4)));
    expect(machine.phase).toBe("running");
    expect(world.spawned()).toEqual([1, 2]);
    up(1);
    up(2);
    // Each worker finishes what it is given and asks again, until none is left.
    for (let busy = true; busy; ) {
      busy = false;
      for (const id of [1, 2]) {
        for (const nodeid of want(id)) {
          finish(id, nodeid);
          busy = true;
        }
      }
    }
    expect(world.lastTo(1)).toEqual({ type: "work:none" });
    const relayed = world.zygote.filter((m) => m.type === "test:finished").map((m) => m.nodeid);
    expect(new Set(relayed)).toEqual(new Set(items(4)));
    exit(1, 0);
    expect(world.finishes()).toBe(0);
    exit(2, 0);
    expect(world.finishes()).toBe(1);
    expect(machine.phase).toBe("finished");
    expect(machine.result.outcomes.total).toMatchObject({ passed: 4, failed: 0 });
    expect([...machine.result.durations.keys()].sort()).toEqual(items(4));
  });

  it("hands each worker its first group with its spawn, so it need not ask", () => {
    const { world, start } = setup({ workers: 2, dist: "module" });
    start(plan([...items(2, "test_a.py"), ...items(1, "test_b.py")]));
    const spawns = world.zygote.filter((m) => m.type === "worker:spawn");
    expect(spawns.map((m) => (m.type === "worker:spawn" ? m.indices : []))).toEqual([[0, 1], [2]]);
    expect(world.workers).toEqual([]);
  });

  it("starts no more workers than groups, and finishes at once with nothing to run", () => {
    const one = setup({ workers: 4, dist: "module" });
    one.start(plan(items(3)));
    expect(one.world.spawned()).toEqual([1]);
    const none = setup({ workers: 2 });
    none.start(plan([]));
    expect(none.world.spawned()).toEqual([]);
    expect(none.world.finishes()).toBe(1);
  });

  it("with -n auto, tells the zygote the count it chose before the first spawn", () => {
    const few = setup({ workers: 2, workersAuto: true, dist: "module" });
    few.start(plan([...items(2, "test_a.py"), ...items(2, "test_b.py")]));
    expect(few.world.zygote[0]).toEqual({
      type: "run:planned",
      workers: 1,
      note: "-n auto: 1 worker (4 items, no recorded durations)",
    });
    expect(few.world.spawned()).toEqual([1]);
    const names = [...items(2, "test_a.py"), ...items(2, "test_b.py")];
    const slow = setup({ workers: 2, workersAuto: true, dist: "module" });
    slow.start(plan(names, { durations: new Map(names.map((n) => [n, 0.5])) }));
    expect(slow.world.zygote[0]).toMatchObject({ type: "run:planned", workers: 2 });
    expect(slow.world.spawned()).toEqual([1, 2]);
  });

  it("says nothing of a count given with -n, nor under --pdb", () => {
    const given = setup({ workers: 2, dist: "module" });
    given.start(plan([...items(1, "test_a.py"), ...items(1, "test_b.py")]));
    expect(given.world.zygote.some((m) => m.type === "run:planned")).toBe(false);
    expect(given.world.spawned()).toEqual([1, 2]);
    const pdb = setup({ workers: 2, workersAuto: true });
    pdb.start(plan(items(2), { serial: "--pdb" }));
    expect(pdb.world.zygote.some((m) => m.type === "run:planned")).toBe(false);
  });

  it("runs --pdb serially in one worker, saying so, and keeps no durations", () => {
    const { world, machine, up, want, finish, start } = setup({ workers: 3 });
    start(plan(items(2), { serial: "--pdb" }));
    expect(world.spawned()).toEqual([1]);
    expect(world.warnings[0]).toContain("--pdb: running the tests serially");
    up(1);
    for (const nodeid of want(1)) finish(1, nodeid);
    expect(machine.result.durations.size).toBe(0);
  });

  it("refuses to start twice", () => {
    const { start } = setup();
    start(plan(items(1)));
    expect(() => start(plan(items(1)))).toThrow(/this is a bug in kiln/);
  });
});

describe("a worker that dies", () => {
  it("mid-test fails that test with the crash and gives the rest to a fresh worker", () => {
    const { world, up, want, finish, exit, start } = setup({ dist: "module" });
    start(plan(items(3)));
    up(1);
    const group = want(1);
    expect(group).toEqual(items(3));
    finish(1, items(3)[0] as string);
    exit(1, null, 11);
    expect(world.crashed()).toEqual([
      expect.objectContaining({
        nodeid: items(3)[1],
        message: expect.stringContaining("killed by signal 11 (SIGSEGV)"),
      }),
    ]);
    // The test after the crashed one is requeued to worker 2.
    expect(world.spawned()).toEqual([1, 2]);
    up(2);
    expect(want(2)).toEqual([items(3)[2]]);
  });

  it("is given up on after three deaths before any test, failing what never ran", () => {
    const { world, machine, exit, start } = setup({ workers: 1 });
    start(plan(items(2)));
    for (const id of [1, 2, 3]) {
      expect(world.spawned()).toContain(id);
      exit(id, 1);
    }
    expect(world.spawned()).toEqual([1, 2, 3]);
    expect(world.warnings.at(-1)).toMatch(/3 Kiln workers died before running a test.*giving up/);
    expect(world.crashed().map((c) => c.nodeid)).toEqual(items(2));
    expect(world.crashed()[0]?.message).toContain("this test was not run");
    expect(machine.phase).toBe("finished");
    expect(world.finishes()).toBe(1);
  });

  it("before its hello ran no test: its first group goes to the next worker, no crash", () => {
    const { world, machine, up, want, exit, start, pid } = setup();
    start(plan(items(2)));
    machine.workerSpawned(1, pid(1));
    exit(1, 1);
    expect(world.crashed()).toEqual([]);
    expect(world.spawned()).toEqual([1, 2]);
    up(2);
    expect(want(2)).toEqual([items(2)[0]]);
  });

  it("before its connection was accepted is settled after the connect grace", () => {
    const { world, machine, start, pid } = setup();
    start(plan(items(1)));
    machine.workerSpawned(1, pid(1));
    machine.workerExited({ workerId: 1, pid: pid(1), exitCode: 1, signal: null });
    expect(world.spawned()).toEqual([1]);
    world.advance(CONNECT_GRACE_MS - 1);
    expect(world.spawned()).toEqual([1]);
    world.advance(1);
    expect(world.spawned()).toEqual([1, 2]);
  });

  it("is accounted for only when both its exit and its socket's end are known", () => {
    const { world, machine, up, want, start, pid } = setup();
    start(plan(items(2)));
    up(1);
    want(1);
    machine.workerClosed(1);
    expect(world.crashed()).toEqual([]);
    machine.workerExited({ workerId: 1, pid: pid(1), exitCode: 70, signal: null });
    expect(world.crashed()).toHaveLength(1);
    expect(world.crashed()[0]?.message).toContain("exited with status 70");
  });

  it("after writing garbage into its channel is killed and its test says why", () => {
    const { world, machine, up, want, exit, start, pid } = setup();
    start(plan(items(1)));
    up(1);
    want(1);
    machine.workerCorrupted(1, "invalid frame length 1651663207");
    expect(world.kills).toEqual([[pid(1), "SIGKILL"]]);
    exit(1, null, 9);
    expect(world.crashed()[0]?.message).toContain("wrote into the worker's channel");
    expect(world.crashed()[0]?.message).toContain("invalid frame length 1651663207");
  });

  it("that reports on a test another worker runs is killed, and the forgery is not recorded", () => {
    const { world, machine, up, want, finish, exit, start, pid } = setup({
      workers: 2,
      dist: "module",
    });
    const names = [...items(2, "test_a.py"), ...items(1, "test_b.py")];
    start(plan(names));
    up(1);
    up(2);
    const mine = want(1);
    const theirs = want(2);
    expect(mine).not.toEqual(theirs);
    const forged = theirs[0] as string;
    const failed: ReportMeta[] = [
      { when: "call", outcome: "failed", duration: 0, wasxfail: false },
    ];
    finish(1, forged, failed);
    expect(world.kills).toEqual([[pid(1), "SIGKILL"]]);
    // Neither relayed to the zygote (pytest's report) nor counted.
    expect(world.zygote.filter((m) => m.type === "test:finished")).toEqual([]);
    expect(machine.result.outcomes.total.failed).toBe(0);
    exit(1, null, 9);
    expect(world.crashed()).toEqual([
      expect.objectContaining({
        nodeid: mine[0],
        message: expect.stringContaining(
          `it sent a result for ${forged} while it was running ${mine[0]}`,
        ),
      }),
    ]);
    // The test the forgery named keeps its own worker's report.
    finish(2, forged);
    expect(world.zygote.filter((m) => m.type === "test:finished").map((m) => m.nodeid)).toEqual([
      forged,
    ]);
  });

  it("that reports its own next test before the running one is killed", () => {
    const { world, up, want, finish, start, pid } = setup({ dist: "module" });
    start(plan(items(3)));
    up(1);
    const group = want(1);
    finish(1, group[1] as string);
    expect(world.kills).toEqual([[pid(1), "SIGKILL"]]);
    expect(world.zygote.filter((m) => m.type === "test:finished")).toEqual([]);
  });

  it("may report its last test's teardown again after a stop (pytest 7's late teardown)", () => {
    const { world, up, want, finish, start } = setup({ dist: "module" });
    start(plan(items(2)));
    up(1);
    const group = want(1);
    const first = group[0] as string;
    finish(1, first);
    const teardown = passed.filter((report) => report.when === "teardown");
    finish(1, first, teardown);
    expect(world.kills).toEqual([]);
    expect(world.zygote.filter((m) => m.type === "test:finished")).toHaveLength(2);
    // The whole test again is not a late teardown: the worker is killed.
    finish(1, first);
    expect(world.kills).toEqual([[1001, "SIGKILL"]]);
  });

  it("may report a node id two items share, once for each", () => {
    const { world, up, want, finish, start } = setup({ dist: "module" });
    start(plan(["test_a.py::test_x", "test_a.py::test_x"]));
    up(1);
    const group = want(1);
    expect(group).toHaveLength(2);
    for (const nodeid of group) finish(1, nodeid);
    expect(world.kills).toEqual([]);
    expect(world.zygote.filter((m) => m.type === "test:finished")).toHaveLength(2);
  });
});

describe("--timeout", () => {
  it("kills a worker that outlives its faulthandler deadline and fails its test as a timeout", () => {
    const { world, up, want, exit, start, pid } = setup({ timeout: 2 });
    start(plan(items(2)));
    up(1);
    want(1);
    world.advance(2000 + TIMEOUT_GRACE_MS - 1);
    expect(world.kills).toEqual([]);
    world.advance(1);
    expect(world.kills).toEqual([[pid(1), "SIGKILL"]]);
    exit(1, null, 9);
    expect(world.crashed()[0]?.message).toContain("Failed: Timeout >2s");
    expect(world.crashed()[0]?.message).toContain("did not answer the timeout");
  });

  it("in a test's teardown fails it with the stack faulthandler dumped", () => {
    const { world, up, want, finish, exit, start } = setup({ timeout: 1, dist: "module" });
    start(plan(items(2)));
    up(1);
    const [first] = want(1);
    finish(1, first as string);
    world.advance(1000); // the second test's teardown hangs; faulthandler exits 1
    world.stacks.set(1, 'File "test_a.py", line 9 in fixture_teardown');
    exit(1, 1);
    expect(world.crashed()).toEqual([
      expect.objectContaining({
        nodeid: items(2)[1],
        message: expect.stringContaining('File "test_a.py", line 9 in fixture_teardown'),
      }),
    ]);
  });

  it("is left to pytest-timeout when it owns --timeout, and paused in the debugger", () => {
    const owned = setup({ timeout: 1 });
    owned.start(plan(items(1), { pluginOwnsTimeout: true }));
    owned.up(1);
    owned.want(1);
    owned.world.advance(60_000);
    expect(owned.world.kills).toEqual([]);

    const debugging = setup({ timeout: 1 });
    debugging.start(plan(items(1)));
    debugging.up(1);
    debugging.want(1);
    debugging.machine.workerMessage(1, { type: "debugger:entered" }, Buffer.alloc(0));
    debugging.world.advance(60_000);
    expect(debugging.world.kills).toEqual([]);
  });
});

describe("stopping", () => {
  it("-x while another worker is mid-test: it is told to stop, finishes, and is not a crash", () => {
    const { world, machine, up, want, finish, exit, start } = setup({ workers: 2 });
    start(plan(items(6)));
    up(1);
    up(2);
    const a = want(1);
    const b = want(2);
    finish(1, a[0] as string, [
      { when: "setup", outcome: "passed", duration: 0, wasxfail: false },
      { when: "call", outcome: "failed", duration: 0, wasxfail: false },
      { when: "teardown", outcome: "passed", duration: 0, wasxfail: false },
    ]);
    machine.stop(); // the zygote's run:stop-requested after the failure
    expect(machine.phase).toBe("stopping");
    expect(world.lastTo(1)).toEqual({ type: "stop" });
    expect(world.lastTo(2)).toEqual({ type: "stop" });
    finish(2, b[0] as string);
    expect(want(2)).toEqual([]);
    exit(1, 0);
    exit(2, 0);
    expect(world.crashed()).toEqual([]);
    expect(world.spawned()).toEqual([1, 2]);
    expect(world.finishes()).toBe(1);
    expect(machine.result.outcomes.total).toMatchObject({ failed: 1, passed: 1 });
  });

  it("a worker's Exit (`q` in pdb) is relayed to the zygote and stops the run", () => {
    const { world, machine, up, want, start } = setup();
    start(plan(items(2)));
    up(1);
    want(1);
    machine.workerMessage(
      1,
      { type: "run:exit", reason: "Quitting debugger", returncode: 2 },
      Buffer.alloc(0),
    );
    expect(world.zygote).toContainEqual({
      type: "run:exit",
      reason: "Quitting debugger",
      returncode: 2,
    });
    expect(machine.phase).toBe("stopping");
  });

  it("Ctrl-C during collection: nothing is started, and the run finishes once pytest is ready", () => {
    const { world, machine, start } = setup({ workers: 2 });
    machine.interrupt();
    expect(machine.phase).toBe("stopping");
    expect(world.finishes()).toBe(0);
    start(plan(items(4)));
    expect(world.spawned()).toEqual([]);
    expect(world.finishes()).toBe(1);
    expect(machine.phase).toBe("finished");
  });

  it("Ctrl-C while tests run: SIGINT to each worker, SIGKILL after the grace, no crash", () => {
    const { world, machine, up, want, exit, start, pid } = setup({ workers: 2 });
    start(plan(items(4)));
    up(1);
    up(2);
    want(1);
    want(2);
    machine.interrupt();
    expect(world.kills).toEqual([
      [pid(1), "SIGINT"],
      [pid(2), "SIGINT"],
    ]);
    exit(1, 0); // reported its interrupted test itself
    world.advance(INTERRUPT_GRACE_MS);
    expect(world.kills.at(-1)).toEqual([pid(2), "SIGKILL"]);
    exit(2, null, 9);
    expect(world.crashed()).toEqual([]);
    expect(world.spawned()).toEqual([1, 2]);
    expect(world.finishes()).toBe(1);
  });

  it("a worker that connects after a stop is stopped in the same way", () => {
    const wind = setup();
    wind.start(plan(items(1)));
    wind.machine.stop();
    wind.up(1);
    expect(wind.world.lastTo(1)).toEqual({ type: "stop" });
    const ctrlc = setup();
    ctrlc.start(plan(items(1)));
    ctrlc.machine.interrupt();
    ctrlc.up(1);
    expect(ctrlc.world.kills).toEqual([[ctrlc.pid(1), "SIGINT"]]);
  });

  it("a second Ctrl-C kills at once, and a later wind-down changes nothing", () => {
    const { world, machine, up, start, pid } = setup();
    start(plan(items(1)));
    up(1);
    machine.interrupt();
    machine.kill();
    expect(world.kills).toEqual([
      [pid(1), "SIGINT"],
      [pid(1), "SIGKILL"],
    ]);
    machine.stop();
    expect(world.lastTo(1)).toBeUndefined();
  });
});

describe("what it records", () => {
  it("emits the worker lifecycle and each test, stamped by the clock it was given", () => {
    const { world, up, want, finish, exit, start } = setup();
    world.time = 5_000;
    start(plan(items(1)));
    up(1);
    for (const nodeid of want(1)) finish(1, nodeid);
    exit(1, 0);
    expect(world.log.map((e) => e.event)).toEqual([
      "worker:spawn-requested",
      "worker:spawned",
      "worker:connected",
      "test:finished",
      "worker:exited",
    ]);
    expect(world.log.every((e) => e.at === 5_000)).toBe(true);
  });
});

describe("workers in a PID namespace (--isolate hermetic, strict)", () => {
  it("a worker's own pid claim never replaces the zygote's: the timeout kills the fork's pid", () => {
    const { world, machine, want, start, pid } = setup({ timeout: 2 });
    start(plan(items(2)));
    // Its hello came first, with no usable pid, then the zygote's report.
    machine.workerConnected(1, null);
    machine.workerSpawned(1, pid(1));
    want(1);
    world.advance(2000 + TIMEOUT_GRACE_MS);
    expect(world.kills).toEqual([[pid(1), "SIGKILL"]]);
    // A forged hello naming another process changes nothing either.
    const other = setup({ timeout: 2 });
    other.start(plan(items(2)));
    other.machine.workerSpawned(1, other.pid(1));
    other.machine.workerConnected(1, 4242);
    other.want(1);
    other.world.advance(2000 + TIMEOUT_GRACE_MS);
    expect(other.world.kills).toEqual([[other.pid(1), "SIGKILL"]]);
  });

  it("one that connected during a stop, before its pid was known, gets its signal once it is", () => {
    const { world, machine, start, pid } = setup();
    start(plan(items(1)));
    machine.interrupt();
    machine.workerConnected(1, null);
    expect(world.kills).toEqual([]);
    machine.workerSpawned(1, pid(1));
    expect(world.kills).toEqual([[pid(1), "SIGINT"]]);
  });
});

describe("an open-ended run (kiln agent, queue/agent-run.ts)", () => {
  it("starts no worker until a group is fed, runs each fed group, and lasts until stopped", () => {
    const { world, machine, up, want, finish, exit, start } = setup({
      workers: 1,
      dist: "module",
      openEnded: true,
    });
    const names = [...items(2, "test_a.py"), ...items(1, "test_b.py")];
    start(plan(names));
    expect(world.spawned()).toEqual([]);
    expect(machine.phase).toBe("running");
    expect(world.finishes()).toBe(0);
    // A job's group: a worker is started with it.
    expect(machine.feed([{ index: 2, nodeid: names[2] as string }])).toBe(true);
    expect(world.spawned()).toEqual([1]);
    up(1);
    for (const nodeid of want(1)) finish(1, nodeid);
    // Nothing more yet: the worker is told to finish its last test as its
    // last (pytest's nextitem None) and wait; the run goes on.
    expect(want(1)).toEqual([]);
    expect(world.lastTo(1)).toEqual({ type: "work:later" });
    expect(world.finishes()).toBe(0);
    // The next job goes to the waiting worker: no new fork.
    machine.feed([0, 1].map((index) => ({ index, nodeid: names[index] as string })));
    expect(world.spawned()).toEqual([1]);
    expect(world.lastTo(1)).toEqual({ type: "work", indices: [0, 1] });
    // A worker's pytest.exit() reaches the zygote's port but does not end an agent's run.
    machine.workerMessage(1, { type: "run:exit", reason: "bye", returncode: 3 }, Buffer.alloc(0));
    expect(world.zygote.filter((m) => m.type === "run:exit")).toHaveLength(1);
    expect(machine.phase).toBe("running");
    machine.interrupt();
    exit(1, 0);
    expect(world.finishes()).toBe(1);
    expect(machine.feed([{ index: 0, nodeid: names[0] as string }])).toBe(false);
  });

  it("a group fed while a worker is busy goes to that worker when it asks, up to -n workers", () => {
    const { world, machine, up, want, start } = setup({ workers: 2, openEnded: true });
    const names = items(3);
    start(plan(names));
    machine.feed([{ index: 0, nodeid: names[0] as string }]);
    machine.feed([{ index: 1, nodeid: names[1] as string }]);
    expect(world.spawned()).toEqual([1, 2]);
    machine.feed([{ index: 2, nodeid: names[2] as string }]);
    expect(world.spawned()).toEqual([1, 2]);
    up(1);
    want(1);
    expect(want(1)).toEqual([names[2]]);
    // A worker that ends while waiting is not handed work.
    up(2);
    want(2);
    expect(want(2)).toEqual([]);
    machine.workerExited({ workerId: 2, pid: 1002, exitCode: 0, signal: null });
    machine.workerClosed(2);
    machine.feed([{ index: 0, nodeid: names[0] as string }]);
    expect(world.spawned()).toEqual([1, 2, 3]);
  });
});
