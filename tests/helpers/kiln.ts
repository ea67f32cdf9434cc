// Running the built CLI against example projects, for e2e tests.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");
export const PROJECTS = join(REPO, "tests/fixtures/projects");
export const HARNESS = join(REPO, "python");

/** An interpreter with pytest: KILN_TEST_PYTHON, else Debian's python3. */
export function pythonWithPytest(): string {
  const candidates = [process.env.KILN_TEST_PYTHON, "/usr/bin/python3", "python3"];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ["-c", "import pytest"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    "no interpreter with pytest found: set KILN_TEST_PYTHON or apt-get install python3-pytest",
  );
}

export interface KilnResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child once started (for signals). */
  onSpawn?: (child: import("node:child_process").ChildProcess) => void;
  timeoutMs?: number;
}

export function runKiln(args: string[], options: RunOptions): Promise<KilnResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        KILN_PYTHON: pythonWithPytest(),
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`kiln ${args.join(" ")} did not finish in time:\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    options.onSpawn?.(child);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

export interface RecordedOutcomes {
  exit_code: number;
  outcomes: Record<string, string>;
}

/** Runs kiln with the outcome recorder plugin; returns what pytest's hooks saw. */
export async function runKilnRecorded(
  args: string[],
  options: RunOptions,
): Promise<{ result: KilnResult; recorded: RecordedOutcomes }> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-e2e-"));
  const file = join(dir, "outcomes.json");
  try {
    const result = await runKiln(["test", "-p", "kiln_harness.outcome_recorder", ...args], {
      ...options,
      env: { ...options.env, KILN_OUTCOMES_FILE: file },
    });
    const recorded = JSON.parse(readFileSync(file, "utf8")) as RecordedOutcomes;
    return { result, recorded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Plain `python -m pytest` on a project, for text comparisons. */
export function runPytest(args: string[], cwd: string): KilnResult {
  const r = spawnSync(pythonWithPytest(), ["-m", "pytest", ...args], {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function project(name: string): string {
  return join(PROJECTS, name);
}
