// The queue's fault semantics with a real redis-server and real agent
// processes (tests/helpers/queue-agent-stub.mjs: Kiln's BullMQ consumer,
// src/queue/bull.ts, running stand-in tests) and the coordinator's result
// ledger (src/queue/ledger.ts): an agent SIGKILLed mid-job has its job
// re-taken by another agent and every test is reported exactly once; a test
// that kills every agent running it ends its job after a bounded number of
// attempts and is reported crashed, and the rest of its group runs.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JobQueue, parseQueueUrl } from "../../src/queue/bull.js";
import { ResultLedger } from "../../src/queue/ledger.js";
import { type JobSpec, planJobs } from "../../src/queue/plan.js";
import { REPO } from "../helpers/kiln.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

const STUB = join(REPO, "tests/helpers/queue-agent-stub.mjs");

interface Agent {
  child: ChildProcess;
  lines: string[];
  exited: Promise<NodeJS.Signals | null>;
}

let agents: Agent[] = [];
let redis: RedisServer | undefined;
let queue: JobQueue | undefined;

afterEach(async () => {
  for (const agent of agents) if (agent.child.exitCode === null) agent.child.kill("SIGKILL");
  await Promise.all(agents.map((agent) => agent.exited));
  agents = [];
  await queue?.close();
  queue = undefined;
  await redis?.stop();
  redis = undefined;
});

function startAgent(url: string): Promise<Agent> {
  const child = spawn(process.execPath, [STUB, url], {
    env: { ...process.env, KILN_QUEUE_LOCK_MS: "1000" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const exited = new Promise<NodeJS.Signals | null>((done) =>
    child.on("exit", (_code, signal) => done(signal)),
  );
  const agent = { child, lines, exited };
  agents.push(agent);
  return new Promise((ready, fail) => {
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      lines.push(...chunk.split("\n").filter(Boolean));
      if (lines.includes("ready")) ready(agent);
    });
    void exited.then(() => fail(new Error(`agent exited before ready: ${lines.join("; ")}`)));
  });
}

/** The coordinator's side: the ledger fed from the queue's events. */
async function coordinator(url: string, jobs: JobSpec[]) {
  const ledger = new ResultLedger(jobs);
  const firsts: string[] = [];
  const duplicates: string[] = [];
  const completed: string[] = [];
  const failed: string[] = [];
  const lost: string[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  queue = await JobQueue.open(parseQueueUrl(url), {
    progress: (jobId, batch) => {
      for (const progress of batch) {
        const verdict = ledger.accept(jobId, progress.attempt, progress.nodeid);
        (verdict === "first" ? firsts : duplicates).push(progress.nodeid);
      }
      wake();
    },
    completed: (jobId) => {
      completed.push(jobId);
      wake();
    },
    failed: (jobId) => {
      failed.push(jobId);
      wake();
    },
    connectionLost: (message) => {
      lost.push(message);
      wake();
    },
  });
  const until = async (what: () => boolean, label: string) => {
    const deadline = Date.now() + 20_000;
    while (!what()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise<void>((done) => {
        waiters.push(done);
        setTimeout(done, 100);
      });
    }
  };
  return { ledger, firsts, duplicates, completed, failed, lost, until };
}

describe("the queue under faults (real Redis, real agent processes)", () => {
  it("an agent SIGKILLed mid-job: the job is re-taken, each test reported once", async () => {
    redis = await startRedisServer();
    const items = [
      "m1.py::slow1",
      "m1.py::slow2",
      "m1.py::slow3",
      "m1.py::slow4",
      "m2.py::t",
      "m3.py::t",
    ];
    const jobs = planJobs("run1", items, "module", new Map());
    const c = await coordinator(redis.url, jobs);
    // No agent yet: the coordinator's check says so after its timeout.
    expect(await queue?.waitForAgent(300)).toBe(false);
    const first = await startAgent(redis.url);
    expect(await queue?.agentCount()).toBe(1);
    await queue?.enqueue("run1", jobs);
    // Killed after its first report, three slow tests before the job's end.
    await c.until(() => c.firsts.includes("m1.py::slow1"), "the first report");
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    const second = await startAgent(redis.url);
    await c.until(() => c.ledger.done && c.completed.length === jobs.length, "every job");
    expect([...c.firsts].sort()).toEqual([...items].sort());
    // The re-taken attempt re-ran the group: its re-report was dropped.
    expect(c.duplicates).toContain("m1.py::slow1");
    expect(second.lines).toContain("took run1-0 2");
    expect(c.ledger.attemptsOf("run1-0")).toBe(2);
    expect(c.failed).toEqual([]);
  }, 40_000);

  it("a test that kills every agent: crashed after a bounded number of attempts", async () => {
    redis = await startRedisServer();
    const items = ["k.py::ok", "k.py::killer", "k.py::after", "o.py::t"];
    const jobs = planJobs("run2", items, "module", new Map());
    const c = await coordinator(redis.url, jobs);
    await startAgent(redis.url);
    await queue?.enqueue("run2", jobs);
    // An agent fleet that replaces each dead agent, as a CI fleet would.
    const crashedTests: string[] = [];
    let requeued = false;
    const alive = (agent: Agent) =>
      agent.child.exitCode === null && agent.child.signalCode === null;
    await c.until(() => {
      if (!agents.some(alive)) void startAgent(redis?.url ?? "").catch(() => undefined);
      if (c.failed.includes("run2-0") && !requeued) {
        requeued = true;
        const { crashed, requeue } = c.ledger.exhausted("run2-0");
        if (crashed !== undefined) crashedTests.push(crashed);
        const rest = { id: "run2-0-rest", indices: [], nodeids: requeue };
        c.ledger.add(rest);
        void queue?.enqueue("run2", [rest]);
      }
      return c.ledger.done && c.completed.includes("run2-0-rest");
    }, "the killer's job to end and the rest to run");
    expect(crashedTests).toEqual(["k.py::killer"]);
    expect([...c.firsts].sort()).toEqual(["k.py::after", "k.py::ok", "o.py::t"]);
    // Bounded: the job ran twice (maxStalledCount 1), and was not retried after.
    expect(c.ledger.attemptsOf("run2-0")).toBe(2);
    expect(c.duplicates).toEqual(["k.py::ok"]);
  }, 40_000);

  it("Redis going away mid-run: a clear error at once, never a hang", async () => {
    redis = await startRedisServer();
    const jobs = planJobs("run3", ["a.py::t"], "module", new Map());
    const c = await coordinator(redis.url, jobs);
    await redis.stop("SIGKILL");
    await c.until(() => c.lost.length > 0, "the connection-lost report");
    expect(c.lost[0]).toContain(`the queue's Redis at ${redis.url} is unreachable`);
    expect(c.lost).toHaveLength(1);
    // Enqueueing now fails at once (no offline queue), rather than waiting.
    const started = Date.now();
    await expect(queue?.enqueue("run3", jobs)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(c.ledger.unreported()).toEqual(["a.py::t"]);
  }, 30_000);
});
