// `kiln test --queue` with real `kiln agent` processes and a real
// redis-server: two agents, each on its own copy of an example project, and
// the coordinator on a third. Its outcomes, exit code and failure texts
// equal plain pytest's (the parity tool's comparison, src/parity/); with no
// agent it says so after --queue-wait, or runs here with --fallback-local;
// an agent whose collection differs refuses, and the run fails saying why.
// Agents stopped with SIGTERM or SIGINT leave no process behind.
import { afterEach, describe, expect, it } from "vitest";
import { runKiln } from "../helpers/kiln.js";
import { killAgents, noProcessesIn, queueParity, startAgent } from "../helpers/queue-agents.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { copyProject } from "../helpers/temp.js";

let redis: RedisServer | undefined;

afterEach(async () => {
  await killAgents();
  await redis?.stop();
  redis = undefined;
});

describe("kiln test --queue with kiln agent processes", () => {
  it("equals plain pytest on example projects; agents end cleanly on SIGTERM and SIGINT", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    // The baseline runs with -p no:cacheprovider (src/parity/run-pytest.ts);
    // the agents' pytest, which makes the reports, is given the same.
    const plugins = ["-p", "no:cacheprovider"];
    for (const name of ["basic", "fixtures", "unittest_cases"]) {
      const one = await startAgent(url, copyProject(name), plugins);
      const two = await startAgent(url, copyProject(name), plugins);
      const run = await queueParity({
        url,
        dir: copyProject(name),
        baselineDir: copyProject(name),
        kilnArgs: plugins,
        extraDirs: [one.dir, two.dir],
      });
      expect(run.differences, `${name}:\n${run.stdout}\n${run.stderr}`).toEqual([]);
      // Both agents took part (jobs are groups; each project has several).
      expect(one.took() + two.took(), name).toBeGreaterThan(1);
      // The coordinator's own zygote printed pytest's summary.
      expect(run.stdout).toMatch(/=+ .*(passed|failed).* in [\d.]+s =+/);
      // Its header names the agents, not workers it never forks.
      expect(run.stdout).toContain(
        `kiln: tests run by kiln agent processes taking jobs from ${url}`,
      );
      expect(run.stdout).not.toContain("forked from a zygote");
      one.child.kill("SIGTERM");
      two.child.kill("SIGINT");
      for (const agent of [one, two]) {
        expect(await agent.exited, agent.output()).toEqual({ code: 0, signal: null });
        expect(agent.output()).toContain("kiln agent: stopped");
        expect(await noProcessesIn(agent.dir)).toEqual([]);
      }
    }
  }, 300_000);

  it("no agent: a clear error after --queue-wait; --fallback-local runs the tests here", async () => {
    redis = await startRedisServer();
    const dir = copyProject("basic");
    const alone = await runKiln(["test", "--queue", redis.url, "--queue-wait", "1"], { cwd: dir });
    expect(alone.code, alone.stderr).toBe(3);
    expect(alone.stderr).toContain(
      `no kiln agent is connected to the queue at ${redis.url} after 1.0s`,
    );
    expect(alone.stderr).toContain("--fallback-local");
    // pytest's own Exit banner, so the terminal says why nothing ran.
    expect(alone.stdout).toMatch(/!+ .*no kiln agent is connected/);

    const local = await queueParity({
      url: redis.url,
      dir,
      baselineDir: copyProject("basic"),
      kilnArgs: ["--queue-wait", "1", "--fallback-local"],
    });
    expect(local.differences, local.stdout).toEqual([]);
    expect(local.stderr).toContain("running the tests here (--fallback-local)");
  }, 120_000);

  it("an unreachable Redis: a clear error at once, or a local run with --fallback-local", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    await redis.stop();
    const dir = copyProject("basic");
    const gone = await runKiln(["test", "--queue", url], { cwd: dir, timeoutMs: 30_000 });
    expect(gone.code, gone.stderr).toBe(3);
    expect(gone.stderr).toContain(`the queue's Redis at ${url} is unreachable`);
    const local = await runKiln(["test", "--queue", url, "--fallback-local"], { cwd: dir });
    expect(local.code, local.stderr).toBe(1);
    expect(local.stdout).toMatch(/8 failed, 14 passed/);
  }, 60_000);

  it("an agent whose collection differs refuses the job; the run fails saying why", async () => {
    redis = await startRedisServer();
    // The agent collects only the tests matching -k add: not the same node ids.
    const agent = await startAgent(redis.url, copyProject("basic"), ["-k", "add"]);
    const run = await runKiln(["test", "--queue", redis.url, "--queue-wait", "20"], {
      cwd: copyProject("basic"),
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain("kiln agent refused the job");
    expect(run.stderr).toMatch(/are not among the \d+ tests kiln agent .* collected/);
    expect(agent.took()).toBeGreaterThan(0);
  }, 120_000);
});
