// A signal at any moment stops the run: status 2, a summary, the stop in the
// record, no process left behind. Before, one that arrived before the
// zygote's pid was known was forgotten and the whole suite ran.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { CLI, pythonWithPytest, runKiln } from "../helpers/kiln.js";
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
  code: number | null;
  stdout: string;
}

function runAndSignal(dir: string, signal: NodeJS.Signals, afterMs: number): Promise<Ended> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, "test", "-n", "2", "-p", "no:cacheprovider"], {
      cwd: dir,
      env: { ...process.env, KILN_PYTHON: pythonWithPytest(), PYTHONDONTWRITEBYTECODE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    setTimeout(() => child.kill(signal), afterMs);
    child.on("close", (code) => done({ code, stdout }));
  });
}

/** Running, not merely a zombie waiting for this container's init to reap it. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("a signal early in the run", () => {
  // From "the CLI has started" to "workers are running": the window where
  // the zygote is starting, the registry is prepared, pytest configures.
  // Not earlier: until Node has loaded the CLI's modules and installed its
  // handlers (~50 ms idle, over 150 ms on this 2-core machine while other
  // test files run), a signal takes Node's default action.
  const moments = [300, 400, 500, 650];
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
