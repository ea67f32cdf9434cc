// `kiln test --queue` with real `kiln agent` processes and a real
// redis-server: two agents, each on its own copy of an example project, and
// the coordinator on a third. Its outcomes, exit code and failure texts
// equal plain pytest's (the parity tool's comparison, src/parity/); with no
// agent it says so after --queue-wait, or runs here with --fallback-local;
// an agent takes each run's pytest options from its coordinator; an agent
// whose collection differs, or that was started with other options,
// refuses, and the run fails saying why.
// Agents stopped with SIGTERM or SIGINT leave no process behind.
import { appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
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
    // so does the coordinator, whose options the agents' pytest, which makes
    // the reports, takes: one agent is given them (pinned to them), the
    // other takes them from the coordinator.
    const plugins = ["-p", "no:cacheprovider"];
    for (const name of ["basic", "fixtures", "unittest_cases"]) {
      // The coordinator's pytest also loads the outcome recorder (queueParity).
      const pinned = ["-p", "kiln_harness.outcome_recorder", ...plugins];
      const one = await startAgent(url, copyProject(name), pinned);
      const two = await startAgent(url, copyProject(name));
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

  it("one long-lived agent takes each run's pytest options and paths from its coordinator", async () => {
    redis = await startRedisServer();
    const url = redis.url;
    // Started without pytest arguments: every run's come from its coordinator.
    const agent = await startAgent(url, copyProject("basic"));
    const dir = copyProject("basic");
    // -m slow: the agent collects what the coordinator selected, or it
    // would refuse the run (its collection would have the other tests).
    const slow = await queueParity({
      url,
      dir,
      baselineDir: copyProject("basic"),
      // One run id for two runs (a retried CI job's): each is its own spec.
      kilnArgs: ["--run-id", "again", "-p", "no:cacheprovider", "-m", "slow"],
      pytestArgs: ["-m", "slow"],
      extraDirs: [agent.dir],
    });
    expect(slow.differences, `${slow.stdout}\n${slow.stderr}`).toEqual([]);
    expect(slow.stdout).toMatch(/deselected/);
    // From a subdirectory, a path relative to it: the agent resolves it in
    // its own checkout (sub/test_nested.py), not in the coordinator's cwd.
    const nested = await runKiln(
      [
        ...["test", "--queue", url, "--queue-wait", "20", "--run-id", "again"],
        ...["-p", "no:cacheprovider", "test_nested.py"],
      ],
      { cwd: join(dir, "sub"), timeoutMs: 60_000 },
    );
    expect(nested.code, `${nested.stdout}\n${nested.stderr}`).toBe(1);
    expect(nested.stdout).toMatch(/1 failed, 3 passed/);
    // A third set of options (Kiln's --timeout is one): a third zygote, and
    // the least recently used one is stopped (at most two are kept).
    const timed = await runKiln(
      ["test", "--queue", url, "--queue-wait", "20", "--timeout", "30", "-p", "no:cacheprovider"],
      { cwd: dir, timeoutMs: 60_000 },
    );
    expect(timed.code, timed.stderr).toBe(1);
    expect(timed.stdout).toMatch(/8 failed, 14 passed/);
    const output = agent.output();
    expect(output).toContain("starting a zygote for run again");
    expect(output).toMatch(/"-p","no:cacheprovider","-m","slow"\], --timeout none/);
    expect(output).toMatch(/pytest arguments \["-p","no:cacheprovider","sub\/test_nested.py"\]/);
    expect(output).toMatch(/pytest arguments \["-p","no:cacheprovider"\], --timeout 30/);
    expect(output).toContain("stopping the zygote for");
    agent.child.kill("SIGTERM");
    expect(await agent.exited, agent.output()).toEqual({ code: 0, signal: null });
    expect(await noProcessesIn(agent.dir)).toEqual([]);
  }, 180_000);

  it("an agent whose checkout has other tests refuses the run, naming them", async () => {
    redis = await startRedisServer();
    const agentDir = copyProject("basic");
    appendFileSync(join(agentDir, "test_math.py"), "\n\ndef test_only_on_the_agent():\n    pass\n");
    rmSync(join(agentDir, "sub", "test_nested.py"));
    const agent = await startAgent(redis.url, agentDir);
    const run = await runKiln(["test", "--queue", redis.url, "--queue-wait", "20"], {
      cwd: copyProject("basic"),
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain("kiln agent refused the job");
    expect(run.stderr).toMatch(
      /its collection differs from the coordinator's: of the run.s 28 tests, 4 missing here \(sub\/test_nested\.py::/,
    );
    expect(run.stderr).toContain("1 not in the run (test_math.py::test_only_on_the_agent)");
    expect(run.stderr).toContain("check out the same commit on every agent");
    // Refused as a whole at its first job, whichever it is: no test ran
    // (a check per job ran the jobs whose tests it had).
    expect(agent.took()).toBeGreaterThan(0);
    expect(run.stdout).not.toMatch(/\d+ (passed|failed)/);
  }, 120_000);

  it("an agent started with pytest options or --timeout refuses a run with others", async () => {
    redis = await startRedisServer();
    const agent = await startAgent(redis.url, copyProject("basic"), [
      "--timeout",
      "5",
      "-p",
      "no:cacheprovider",
    ]);
    const dir = copyProject("basic");
    const untimed = await runKiln(
      ["test", "--queue", redis.url, "--queue-wait", "20", "-p", "no:cacheprovider"],
      { cwd: dir, timeoutMs: 60_000 },
    );
    expect(untimed.code, untimed.stderr).toBe(3);
    expect(untimed.stderr).toContain("the run's --timeout is none, but kiln agent");
    expect(untimed.stderr).toContain("start the agent without --timeout");
    const other = await runKiln(
      ["test", "--queue", redis.url, "--queue-wait", "20", "--timeout", "5", "-k", "add"],
      { cwd: dir, timeoutMs: 60_000 },
    );
    expect(other.code, other.stderr).toBe(3);
    expect(other.stderr).toContain(
      'the run\'s pytest arguments ["-k","add"] differ from the pytest arguments ' +
        '["-p","no:cacheprovider"] kiln agent',
    );
    expect(other.stderr).toContain("start the agent without pytest arguments");
    // With its own options, the run goes through.
    const same = await runKiln(
      [
        "test",
        "--queue",
        redis.url,
        "--queue-wait",
        "20",
        "--timeout",
        "5",
        "-p",
        "no:cacheprovider",
      ],
      { cwd: dir, timeoutMs: 60_000 },
    );
    expect(same.code, same.stderr).toBe(1);
    expect(same.stdout).toMatch(/8 failed, 14 passed/);
    expect(agent.output()).not.toContain("starting a zygote");
  }, 120_000);
  it("an agent whose own collection fails: pinned, it exits saying why; unpinned, it waits for runs", async () => {
    redis = await startRedisServer();
    await expect(
      startAgent(redis.url, copyProject("collection_errors"), ["-p", "no:cacheprovider"]),
    ).rejects.toThrow(
      /could not collect with the arguments this agent was started with \(exit 2\)/,
    );
    // Without pytest arguments a run's own (--continue-on-collection-errors,
    // queue-parity.test.ts) may collect: the agent stays.
    const agent = await startAgent(redis.url, copyProject("collection_errors"));
    expect(agent.output()).toContain(
      "its zygote could not collect with no pytest arguments (exit 2)",
    );
    agent.child.kill("SIGTERM");
    expect(await agent.exited, agent.output()).toEqual({ code: 0, signal: null });
    expect(await noProcessesIn(agent.dir)).toEqual([]);
  }, 120_000);
});
