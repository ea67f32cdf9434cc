// Issue 15's queue overhead: one coordinator (`kiln test --queue`) plus two
// agents (`kiln agent -n 1`) against a local `kiln test -n 2`, all on this
// machine, on the generated import-heavy suite (the bench's "import-heavy"
// size). Rounds alternate local and queued runs; medians are compared
// (target: queued <= 1.15x local). Then the time from `kiln agent` start to
// its first job taken, with the compiled-code store in Redis warm (what
// earlier agents compiled) and cold (an empty Redis database), each agent on
// a fresh copy of the project. Speed is never asserted; load is printed.
//
//   npm run bench:queue [-- --rounds 5]
import { type ChildProcess, execSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genProject } from "./generators/gen-project.js";
import { DEFAULT_PYTHON, KILN_CLI } from "./paths.js";
import { median } from "./stats.js";
import { HEAVY_STDLIB } from "./suites.js";

const PYTHON = process.env.KILN_PYTHON ?? DEFAULT_PYTHON;
const REDIS_SERVER = process.env.KILN_TEST_REDIS_SERVER ?? "/usr/bin/redis-server";
const ENV = { ...process.env, KILN_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: "1" };

function uptime(): string {
  return execSync("uptime", { encoding: "utf8" }).trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function kiln(args: string[], cwd: string): { ms: number; code: number | null } {
  const start = performance.now();
  const r = spawnSync(process.execPath, [KILN_CLI, ...args], { cwd, env: ENV, stdio: "ignore" });
  return { ms: performance.now() - start, code: r.status };
}

interface Agent {
  child: ChildProcess;
  /** ms from spawn to "ready" and to its first "took", once seen. */
  readyMs: Promise<number>;
  firstJobMs: Promise<number>;
}

function startAgent(url: string, dir: string, extra: string[] = []): Agent {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [KILN_CLI, "agent", "--queue", url, "-n", "1", "--project", dir, ...extra],
    { env: ENV, stdio: ["ignore", "pipe", "ignore"] },
  );
  let text = "";
  const seen = (marker: string) =>
    new Promise<number>((done, fail) => {
      const check = () => {
        if (text.includes(marker)) {
          child.stdout?.off("data", check);
          done(performance.now() - started);
        }
      };
      child.stdout?.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        check();
      });
      child.once("exit", () => fail(new Error(`agent exited before "${marker}":\n${text}`)));
    });
  return { child, readyMs: seen("kiln agent: ready"), firstJobMs: seen("kiln agent: took") };
}

async function stopAgent(agent: Agent): Promise<void> {
  if (agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  const exited = new Promise((done) => agent.child.once("exit", done));
  agent.child.kill("SIGTERM");
  await exited;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--rounds");
  const rounds = at < 0 ? 5 : Number(process.argv[at + 1] ?? 5);
  const root = mkdtempSync(join(tmpdir(), "kiln-queue-bench-"));
  const project = join(root, "coordinator");
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // noeviction: BullMQ's requirement (README: the Redis note).
  const redis = spawn(REDIS_SERVER, [
    ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    ...["--maxmemory-policy", "noeviction"],
  ]);
  const agents: Agent[] = [];
  try {
    genProject(PYTHON, project, {
      pkgs: 4,
      mods: 10,
      tests: 40,
      cases: 8,
      heavy: HEAVY_STDLIB,
      seed: 1,
    });
    const copy = (name: string) => {
      const dir = join(root, name);
      cpSync(project, dir, { recursive: true });
      return dir;
    };
    const agentDirs = [copy("agent1"), copy("agent2")];
    const fresh = [copy("fresh-warm"), copy("fresh-cold")];
    console.log(`queue overhead bench: ${uptime()}`);
    // Warm-up: the local registry and recorded durations, and the agents'
    // zygotes (their compiled modules go to Redis).
    kiln(["test", "-n", "2", "-q"], project);
    for (const dir of agentDirs) agents.push(startAgent(url, dir));
    await Promise.all(agents.map((agent) => agent.readyMs));
    kiln(["test", "--queue", url, "-q"], project);
    const local: number[] = [];
    const queued: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const l = kiln(["test", "-n", "2", "-q"], project);
      const q = kiln(["test", "--queue", url, "-q"], project);
      if (l.code !== q.code)
        console.log(`  round ${round + 1}: exit ${l.code} local, ${q.code} queued`);
      local.push(l.ms);
      queued.push(q.ms);
    }
    const ratio = median(queued) / median(local);
    console.log(
      `  local kiln test -n 2: median ${median(local).toFixed(0)} ms [${local.map((v) => v.toFixed(0)).join(", ")}]`,
    );
    console.log(
      `  coordinator + 2 agents x 1 worker: median ${median(queued).toFixed(0)} ms [${queued.map((v) => v.toFixed(0)).join(", ")}]`,
    );
    console.log(`  ratio queued/local: ${ratio.toFixed(2)}x (target <= 1.15x)`);
    await Promise.all(agents.splice(0).map(stopAgent));
    // Time to the first job: the run waits in the queue; a new agent starts
    // on a fresh copy (no .kiln/), its store warm (this Redis) or cold (db 1).
    for (const [label, dir, store] of [
      ["warm Redis store", fresh[0], url],
      ["cold Redis store (empty db 1)", fresh[1], `${url}/1`],
    ] as const) {
      const coordinator = spawn(
        process.execPath,
        [KILN_CLI, "test", "--queue", url, "--queue-wait", "120", "-q"],
        { cwd: project, env: ENV, stdio: "ignore" },
      );
      const done = new Promise((resolve) => coordinator.once("exit", resolve));
      // The coordinator waits for an agent before it enqueues: give it time to collect.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const agent = startAgent(url, dir ?? "", ["--store", store]);
      agents.push(agent);
      const [ready, first] = [await agent.readyMs, await agent.firstJobMs];
      console.log(
        `  kiln agent start -> ready ${ready.toFixed(0)} ms, -> first job taken ${first.toFixed(0)} ms (${label})`,
      );
      await done;
      await stopAgent(agent);
    }
    console.log(`  done: ${uptime()}`);
  } finally {
    await Promise.all(agents.map(stopAgent));
    redis.kill("SIGTERM");
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
