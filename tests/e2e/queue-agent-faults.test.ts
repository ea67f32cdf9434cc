// `kiln test --queue` under faults, with real `kiln agent` processes and a
// real redis-server: an agent SIGKILLed mid-job (its job re-taken, each test
// reported once, the exit code right); a test that kills every agent running
// it (crashed after a bounded number of attempts); a segfault and a hang past
// --timeout (as in a local run); Redis going away (a clear error, no hang);
// the coordinator SIGKILLed (nothing left behind, the agents go on).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runKiln, runKilnRecorded } from "../helpers/kiln.js";
import { processesIn } from "../helpers/processes.js";
import {
  type Agent,
  killAgents,
  noProcessesIn,
  queueParity,
  startAgent,
} from "../helpers/queue-agents.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { latestRun } from "../helpers/reports.js";
import { copyProject, tempDir } from "../helpers/temp.js";

let redis: RedisServer | undefined;

afterEach(async () => {
  await killAgents();
  await redis?.stop();
  redis = undefined;
});

/** Short locks, so a dead agent's job comes back in seconds (bull.ts queueTimings). */
const FAST_LOCKS = { KILN_QUEUE_LOCK_MS: "1500" };

/** Three modules of tests that take 0.3 s each, one of which fails. */
function slowProject(extra: Record<string, string> = {}): string {
  const dir = tempDir("kiln-slow-");
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  for (const name of ["a", "b", "c"]) {
    const tests = [0, 1, 2, 3]
      .map((i) => `def test_${name}${i}():\n    time.sleep(0.3)\n`)
      .join("\n\n");
    writeFileSync(join(dir, `test_${name}.py`), `import time\n\n\n${tests}`);
  }
  writeFileSync(join(dir, "test_d.py"), "def test_fails():\n    assert 1 == 2\n");
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  return dir;
}

function copies(make: () => string, n: number): string[] {
  const first = make();
  return [first, ...Array.from({ length: n - 1 }, () => copyProject(first))];
}

/** Each node id's call-phase records in the coordinator's run record. */
function callsPerTest(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = readFileSync(join(latestRun(dir), "results.jsonl"), "utf8");
  for (const line of text.split("\n").filter(Boolean)) {
    const record = JSON.parse(line) as { nodeid: string; when: string };
    if (record.when === "call") counts.set(record.nodeid, (counts.get(record.nodeid) ?? 0) + 1);
  }
  return counts;
}

/** A process's parent pid (/proc/PID/stat's fourth field), or 0 once it is gone. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

async function until(what: () => boolean, label: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe("kiln test --queue under faults", () => {
  it("an agent SIGKILLed mid-job: its job is re-taken, each test reported once", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    const [coordinatorDir = "", baselineDir = "", oneDir = "", twoDir = ""] = copies(
      () => slowProject(),
      4,
    );
    const one = await startAgent(url, oneDir, [], FAST_LOCKS);
    const two = await startAgent(url, twoDir, [], FAST_LOCKS);
    const running = queueParity({ url, dir: coordinatorDir, baselineDir, env: FAST_LOCKS });
    // Killed while in its first job (four 0.3 s tests).
    await until(() => one.took() > 0, "agent one's first job");
    await new Promise((done) => setTimeout(done, 500));
    one.child.kill("SIGKILL");
    const run = await running;
    expect(run.differences, `${run.stdout}\n${run.stderr}`).toEqual([]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/1 failed, 12 passed/);
    const calls = callsPerTest(coordinatorDir);
    expect(calls.size).toBe(13);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    // The other agent ran the dead one's job again (its second attempt).
    expect(two.output()).toMatch(/kiln agent: took \S+ 2\n/);
    // The killed agent's zygote and workers went with it.
    expect(await noProcessesIn(oneDir)).toEqual([]);
  }, 180_000);

  it("an agent whose zygote dies mid-job goes as a killed one does: its job is re-taken", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    const [coordinatorDir = "", baselineDir = "", oneDir = "", twoDir = ""] = copies(
      () => slowProject(),
      4,
    );
    const one = await startAgent(url, oneDir, [], FAST_LOCKS);
    const two = await startAgent(url, twoDir, [], FAST_LOCKS);
    const running = queueParity({ url, dir: coordinatorDir, baselineDir, env: FAST_LOCKS });
    await until(() => one.output().includes("starting a zygote for run"), "agent one's zygote");
    await until(() => one.took() > 0, "agent one's first job");
    await new Promise((done) => setTimeout(done, 500));
    // Its zygotes are its children in its checkout; the run's is the newest.
    const zygotes = processesIn(oneDir).filter((pid) => parentOf(pid) === one.child.pid);
    const zygote = Math.max(...zygotes);
    process.kill(zygote, "SIGKILL");
    expect(await one.exited, one.output()).toEqual({ code: 3, signal: null });
    expect(one.output()).toMatch(/ended \(exit \S+\) while it ran 1 jobs; stopping/);
    const run = await running;
    expect(run.differences, `${run.stdout}\n${run.stderr}`).toEqual([]);
    expect(run.code).toBe(1);
    const calls = callsPerTest(coordinatorDir);
    expect(calls.size).toBe(13);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(two.output()).toMatch(/kiln agent: took \S+ 2\n/);
    expect(await noProcessesIn(oneDir)).toEqual([]);
  }, 180_000);

  it("a test that kills every agent running it: crashed after bounded attempts, the rest runs", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    // A worker's parent is the zygote; the zygote's parent is `kiln agent`.
    const killer =
      "import os, signal, time\n\n\ndef test_ok():\n    pass\n\n\n" +
      "def test_kills_agent():\n" +
      "    with open(f'/proc/{os.getppid()}/stat') as f:\n" +
      "        agent = int(f.read().rsplit(')', 1)[1].split()[1])\n" +
      "    os.kill(agent, signal.SIGKILL)\n" +
      "    time.sleep(30)\n\n\n" +
      "def test_after():\n    pass\n";
    const [coordinatorDir = "", template = ""] = copies(
      () => slowProject({ "test_k.py": killer }),
      2,
    );
    // A fleet that replaces each dead agent (as a CI fleet would), two alive.
    const fleet: Agent[] = [];
    const alive = () => fleet.filter((agent) => agent.child.signalCode === null);
    const starting: Promise<unknown>[] = [];
    const keep = async () => {
      while (alive().length + starting.length < 2) {
        const next = startAgent(url, copyProject(template), [], FAST_LOCKS);
        starting.push(next);
        const agent = await next;
        starting.splice(starting.indexOf(next), 1);
        fleet.push(agent);
      }
    };
    await keep();
    let running = true;
    const keeper = (async () => {
      while (running) {
        await keep().catch(() => undefined);
        await new Promise((done) => setTimeout(done, 100));
      }
    })();
    const { result, recorded } = await runKilnRecorded(
      ["--queue", url, "--queue-wait", "60", "--dist", "module"],
      { cwd: coordinatorDir, env: FAST_LOCKS, timeoutMs: 150_000 },
    );
    running = false;
    await keeper;
    const took = fleet.map((agent) =>
      agent
        .output()
        .split("\n")
        .filter((line) => line.includes("took")),
    );
    const why = `${result.stdout}\n${result.stderr}\n${JSON.stringify(took)}`;
    expect(result.code, why).toBe(1);
    expect(recorded.outcomes["test_k.py::test_kills_agent"], why).toBe("failed");
    expect(recorded.outcomes["test_k.py::test_after"], why).toBe("passed");
    expect(recorded.outcomes["test_k.py::test_ok"], why).toBe("passed");
    // Blamed in a job of its own (the group's unreported tests were split).
    expect(result.stdout).toMatch(/died on every attempt of job \S+-t\d+ \(job stalled more than/);
    expect(result.stdout).toMatch(/2 failed, 14 passed/);
    // Bounded: two attempts of the group's job, two of the killer's own.
    const dead = fleet.filter((agent) => agent.child.signalCode === "SIGKILL");
    expect(dead.length, why).toBeGreaterThanOrEqual(2);
    expect(dead.length, why).toBeLessThanOrEqual(4);
    const calls = callsPerTest(coordinatorDir);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
  }, 180_000);

  it("a segfault and a hang past --timeout read as in a local run", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    const cases = [
      {
        name: "crashes",
        args: [] as string[],
        pytest: ["-p", "xdist", "-n", "1"],
        crashed: ["test_exit.py::test_os_exit", "test_segfault.py::test_segfault"],
      },
      {
        name: "timeouts",
        args: ["--timeout", "2"],
        pytest: ["-p", "timeout", "--timeout", "2"],
        crashed: ["test_loop.py::test_infinite_loop"],
      },
    ];
    for (const c of cases) {
      const plugins = [...c.args, "-p", "no:cacheprovider"];
      // The agents take the run's --timeout and pytest options from it.
      const one = await startAgent(url, copyProject(c.name));
      const two = await startAgent(url, copyProject(c.name));
      const exempt = c.crashed;
      const run = await queueParity({
        url,
        dir: copyProject(c.name),
        baselineDir: copyProject(c.name),
        kilnArgs: plugins,
        pytestArgs: c.pytest,
        textExempt: exempt,
      });
      expect(run.differences, `${c.name}:\n${run.stdout}\n${run.stderr}`).toEqual([]);
      // The crash text is a local run's, but for the worker's number and pid.
      const local = await runKilnRecorded(["-n", "2", ...plugins], { cwd: copyProject(c.name) });
      const queued = await runKilnRecorded(["--queue", url, ...plugins], {
        cwd: copyProject(c.name),
      });
      const failures = (r: { recorded: object }) =>
        (r.recorded as { failures: Record<string, Record<string, string>> }).failures;
      const normal = (text: string | undefined) =>
        (text ?? "")
          .replace(/kw\d+/g, "kwN")
          .replace(/pid \d+/g, "pid N")
          .replace(/\d+(\.\d+)?\s?s\b/g, "Ns")
          .replace(/line \d+/g, "line N")
          .replace(/\/[^\s"']*\/(test_\w+\.py)/g, "$1");
      for (const nodeid of exempt) {
        expect(normal(failures(queued)[nodeid]?.call), nodeid).toBe(
          normal(failures(local)[nodeid]?.call),
        );
      }
      for (const agent of [one, two]) agent.child.kill("SIGTERM");
      for (const agent of [one, two]) expect((await agent.exited).code).toBe(0);
    }
  }, 240_000);

  it("Redis going away mid-run: a clear error naming what was not run, never a hang", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    const [coordinatorDir = "", agentDir = ""] = copies(() => slowProject(), 2);
    const agent = await startAgent(url, agentDir, [], FAST_LOCKS);
    const running = runKiln(["test", "--queue", url], { cwd: coordinatorDir, timeoutMs: 60_000 });
    await until(() => agent.took() > 0, "the agent's first job");
    await redis.stop("SIGKILL");
    const run = await running;
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`the queue's Redis at ${url} is unreachable`);
    expect(run.stderr).toMatch(/\d+ tests were not reported \(test_/);
    // The agent, cut off from Redis, still stops when told to.
    agent.child.kill("SIGTERM");
    expect((await agent.exited).code).toBe(0);
    expect(await noProcessesIn(agentDir)).toEqual([]);
  }, 120_000);

  it("the coordinator SIGKILLed: nothing of it is left, the agents go on and stop cleanly", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    const [coordinatorDir = "", agentDir = ""] = copies(() => slowProject(), 2);
    const agent = await startAgent(url, agentDir, [], FAST_LOCKS);
    let pid = 0;
    const running = runKiln(["test", "--queue", url], {
      cwd: coordinatorDir,
      onSpawn: (child) => {
        pid = child.pid ?? 0;
      },
    });
    await until(() => agent.took() > 0, "the agent's first job");
    process.kill(pid, "SIGKILL");
    expect((await running).signal).toBe("SIGKILL");
    expect(await noProcessesIn(coordinatorDir)).toEqual([]);
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill("SIGINT");
    expect((await agent.exited).code).toBe(0);
    expect(await noProcessesIn(agentDir)).toEqual([]);
  }, 120_000);
});
