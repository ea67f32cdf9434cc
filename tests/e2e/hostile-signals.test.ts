// A signal at any moment stops the run: status 2, a summary, the stop in the
// record, no process left behind. Before, one that arrived before the
// zygote's pid was known was forgotten and the whole suite ran.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { CLI, pythonWithPytest, runKiln } from "../helpers/kiln.js";
import { processAlive } from "../helpers/processes.js";
import { pythonFor } from "../helpers/pythons.js";
import { finalLineCounts } from "../helpers/reports.js";

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function sleepyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-signals-"));
  temps.push(dir);
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
  writeFileSync(
    join(dir, "test_sleep.py"),
    "import time, pytest\n\n@pytest.mark.parametrize('i', range(20))\ndef test_sleep(i):\n    time.sleep(1)\n",
  );
  return dir;
}

interface Ended {
  pid: number;
  code: number | null;
  stdout: string;
}

/**
 * `afterMs` after Kiln's code catches signals (its KILN_DEBUG line; what comes
 * before is Node's own start-up, a few hundred ms on a loaded machine), or
 * "after the first test passed" (its dot on stdout).
 */
function runAndSignal(
  dir: string,
  signal: NodeJS.Signals,
  afterMs: number | "first-pass",
): Promise<Ended> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, "test", "-n", "2", "-p", "no:cacheprovider"], {
      cwd: dir,
      env: {
        ...process.env,
        KILN_PYTHON: pythonWithPytest(),
        PYTHONDONTWRITEBYTECODE: "1",
        KILN_DEBUG: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    if (afterMs === "first-pass") {
      const watch = () => {
        // With several workers the progress line is dots only, as under xdist.
        if (!/collected 20 items\n[^\n]*\./.test(stdout)) return;
        child.stdout.off("data", watch);
        // The dot comes as the worker reports its first test; a moment later
        // it is inside the next test's sleep, where the interrupt names the
        // test's line (a Ctrl-C inside the report names pytest's hook call).
        setTimeout(() => child.kill(signal), 300);
      };
      child.stdout.on("data", watch);
    } else {
      const watch = (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
        if (!stderr.includes("kiln: debug: signals are caught")) return;
        child.stderr.off("data", watch);
        setTimeout(() => child.kill(signal), afterMs);
      };
      child.stderr.on("data", watch);
    }
    child.stderr.resume();
    child.on("close", (code) => done({ pid: child.pid ?? -1, code, stdout }));
  });
}

describe("a signal early in the run", () => {
  // From "Kiln's code runs" to "workers are running": the CLI loading, the
  // zygote starting, the registry being prepared, pytest configuring. Before
  // that, Node itself is starting and a signal takes its default action.
  // Fixed moments, plus two random ones per run (the name says which, so a
  // failure can be replayed), anywhere up to well into the tests.
  const random = [0, 1].map(() => Math.floor(Math.random() * 2500));
  const moments = [0, 60, 150, 300, 450, ...random];
  it.each(moments.flatMap((ms) => [["SIGTERM", ms] as const, ["SIGINT", ms] as const]))(
    "%s after %i ms stops the run with status 2",
    async (signal, afterMs) => {
      const dir = sleepyProject();
      const ended = await runAndSignal(dir, signal, afterMs);
      expect(ended.code, ended.stdout).toBe(2);
      expect(ended.stdout).toContain("KeyboardInterrupt");
      // Stopped, not run to the end: fewer than the 20 tests passed.
      expect(finalLineCounts(ended.stdout).passed ?? 0, ended.stdout).toBeLessThan(20);
      const workers = readFileSync(join(dir, ".kiln/runs/latest/workers.jsonl"), "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as { event: string; pid?: number });
      expect(workers.map((w) => w.event)).toContain("run:stop-requested");
      const pids = workers.flatMap((w) => (typeof w.pid === "number" && w.pid > 0 ? [w.pid] : []));
      // Kiln has exited; its workers may take a moment more to be reaped.
      await vi.waitFor(() => expect(pids.filter(processAlive)).toEqual([]), {
        timeout: 10_000,
        interval: 20,
      });
    },
  );
});

describe("a signal while tests run", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "%s reports what finished and the line the running test was at",
    async (signal) => {
      const dir = sleepyProject();
      const ended = await runAndSignal(dir, signal, "first-pass");
      expect(ended.code, ended.stdout).toBe(2);
      const end = ended.stdout.slice(ended.stdout.indexOf("!!!"));
      // pytest's wrap_session names the interrupted test's line, not Kiln's loop.
      expect(end).toContain(`${dir}/test_sleep.py:5: KeyboardInterrupt`);
      expect(end).not.toContain("selectors.py");
      expect(end).not.toContain("kiln_harness");
      expect(end).toMatch(/=+ [1-9]\d* passed in /);
      expect(end).not.toContain("no tests ran");
      expect(end).not.toContain("failed");
    },
  );
});

describe("a test that raises KeyboardInterrupt", () => {
  it.each(["7.2", "9.1"] as const)("ends the session as pytest %s does", async (version) => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-ki-"));
    temps.push(dir);
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_k.py"),
      "def test_a():\n    pass\n\ndef test_ki():\n    raise KeyboardInterrupt\n\ndef test_after():\n    pass\n",
    );
    const python = pythonFor(version);
    const args = ["-p", "no:cacheprovider"];
    const kiln = await runKiln(["test", "--python", python, "-n", "1", ...args], { cwd: dir });
    const pytest = spawnSync(python, ["-m", "pytest", ...args], { cwd: dir, encoding: "utf8" });
    const tail = (out: string) => out.slice(out.indexOf("!!!!")).replace(/ in \d+\.\d+s/, " in Ts");
    expect(kiln.code).toBe(2);
    expect(pytest.status).toBe(2);
    expect(tail(kiln.stdout)).toContain(`${dir}/test_k.py:5: KeyboardInterrupt`);
    expect(tail(kiln.stdout)).toBe(tail(pytest.stdout));
    expect(kiln.stdout).not.toContain("crashed");
  });
});

describe("a test that kills its zygote", () => {
  it("is named as the likely cause, with what finished before", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-kz-"));
    temps.push(dir);
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_z.py"),
      [
        "import os, signal, time",
        "",
        "def test_a():",
        "    pass",
        "",
        "def test_b():",
        "    assert 0",
        "",
        "def test_kill():",
        "    os.kill(os.getppid(), signal.SIGKILL)",
        "    time.sleep(5)",
        "",
      ].join("\n"),
    );
    const r = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("was killed by SIGKILL while the tests were running");
    expect(r.stderr).toContain("a test may have killed it");
    expect(r.stderr).toContain("Tests that finished before that: 1 failed, 1 passed.");
    expect(r.stderr).not.toContain("during collection");
  });
});

describe("a supervisor killed with SIGKILL", () => {
  it("leaves a scratch dir that the next run removes", async () => {
    const dir = sleepyProject();
    const ended = await runAndSignal(dir, "SIGKILL", "first-pass");
    expect(ended.code).toBe(null);
    const left = readdirSync(tmpdir()).filter((n) => n.startsWith(`kiln-run-${ended.pid}-`));
    expect(left).toHaveLength(1);
    const next = await runKiln(
      ["test", "-n", "1", "-p", "no:cacheprovider", "-k", "test_sleep[0]"],
      {
        cwd: dir,
      },
    );
    expect(next.code).toBe(0);
    expect(existsSync(join(tmpdir(), left[0] as string))).toBe(false);
  });
});
