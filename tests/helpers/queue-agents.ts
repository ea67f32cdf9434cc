// `kiln agent` processes for the queue's e2e tests (tests/e2e/queue-*.test.ts):
// each on its own copy of a project, started, waited for ("kiln agent:
// ready"), and stopped; and the baseline comparison they share.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { compareRuns, type Difference, parseOutcomesFile } from "../../src/parity/compare.js";
import { runPytest } from "../../src/parity/run-pytest.js";
import { CLI, pythonWithPytest, runKilnRecorded } from "./kiln.js";
import { processesIn } from "./processes.js";
import { tempDir } from "./temp.js";

export interface Agent {
  child: ChildProcess;
  dir: string;
  output(): string;
  /** How many "kiln agent: took" lines it printed. */
  took(): number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Agent[] = [];

export function startAgent(
  url: string,
  dir: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Agent> {
  const child = spawn(
    process.execPath,
    [CLI, "agent", "--queue", url, "-n", "1", "--project", dir, ...args],
    {
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        KILN_PYTHON: pythonWithPytest(),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  const agent: Agent = {
    child,
    dir,
    output: () => text,
    took: () => text.split("\n").filter((line) => line.startsWith("kiln agent: took")).length,
    exited,
  };
  running.push(agent);
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`agent not ready in 60 s:\n${text}`)), 60_000);
    const collect = (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("kiln agent: ready")) {
        clearTimeout(timer);
        ready(agent);
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`agent exited before it was ready:\n${text}`));
    });
  });
}

/** Waits until no process runs in the directory (a zygote and its workers), up to 15 s. */
export async function noProcessesIn(dir: string): Promise<number[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const left = processesIn(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** SIGKILLs every agent still running (afterEach). */
export async function killAgents(): Promise<void> {
  for (const agent of running.splice(0)) {
    if (agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill("SIGKILL");
      await agent.exited;
      // Its zygote sees its pipe close and ends, with its workers.
      await noProcessesIn(agent.dir);
    }
  }
}

/** The coordinator's run (`kiln test --queue URL`) compared with plain pytest on another copy. */
export async function queueParity(options: {
  url: string;
  dir: string;
  baselineDir: string;
  kilnArgs?: string[];
  pytestArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Node ids whose failure text may differ (parity.json's text_exempt). */
  textExempt?: string[];
  extraDirs?: string[];
  /** The interpreter of both the coordinator (`--python`) and the baseline; agents take theirs. */
  python?: string;
}): Promise<{ differences: Difference[]; stdout: string; stderr: string; code: number | null }> {
  const { result, recorded } = await runKilnRecorded(
    [
      "--queue",
      options.url,
      "--queue-wait",
      "30",
      ...(options.python ? ["--python", options.python] : []),
      ...(options.kilnArgs ?? []),
    ],
    { cwd: options.dir, timeoutMs: 120_000, ...(options.env ? { env: options.env } : {}) },
  );
  const outcomesFile = join(tempDir("kiln-baseline-"), "outcomes.json");
  const baseline = await runPytest({
    python: options.python ?? pythonWithPytest(),
    projectDir: options.baselineDir,
    args: options.pytestArgs ?? [],
    outcomesFile,
    timeoutSeconds: 120,
  });
  const kiln = parseOutcomesFile(JSON.stringify(recorded));
  const paths = [options.dir, options.baselineDir, ...(options.extraDirs ?? [])].map(
    (dir) => [dir, "<project>"] as const,
  );
  const exempt = new Set(options.textExempt ?? []);
  const differences = compareRuns(
    { exitCode: baseline.exitCode, outcomes: baseline.outcomes ?? {}, texts: baseline.texts },
    { exitCode: result.code, outcomes: kiln.outcomes, texts: kiln.texts },
    { paths },
  ).filter((d) => !("nodeid" in d && d.kind.endsWith("-text") && exempt.has(d.nodeid)));
  return { differences, stdout: result.stdout, stderr: result.stderr, code: result.code };
}
