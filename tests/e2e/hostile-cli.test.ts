// Hostile command lines (issue 9): values Node cannot honour and mistakes that
// used to surface only after the whole suite ran are usage errors (exit 4,
// pytest's ExitCode.USAGE_ERROR) before anything runs.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runKiln } from "../helpers/kiln.js";

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A project whose two tests each take a moment, so a 1 ms timer would kill them. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-hostile-cli-"));
  scratch.push(dir);
  writeFileSync(
    join(dir, "test_slow.py"),
    "import time\n\ndef test_a():\n    time.sleep(0.3)\n\ndef test_b():\n    time.sleep(0.3)\n",
  );
  return dir;
}

function ranNothing(dir: string): boolean {
  return (
    !existsSync(join(dir, ".kiln", "runs")) || readdirSync(join(dir, ".kiln", "runs")).length === 0
  );
}

describe("hostile kiln test flags", () => {
  it("a --timeout near Node's timer limit still times tests at that length (item 2)", async () => {
    const dir = project();
    // 2147480 s + the watchdog's 5 s grace is above 2^31-1 ms: Node clamped
    // the timer to 1 ms and every test after the first was killed as hung.
    // -p no:timeout: with pytest-timeout installed the plugin owns --timeout,
    // and this is about Kiln's own watchdog.
    const args = ["test", "-n", "1", "--timeout", "2147480", "-q", "-p", "no:timeout"];
    const r = await runKiln([...args, "-p", "no:cacheprovider"], { cwd: dir });
    expect(r.stderr).not.toContain("TimeoutOverflowWarning");
    expect(r.stdout).toContain("2 passed");
    expect(r.code).toBe(0);
  });

  it("a --timeout beyond Node's timers is a usage error before the run (item 2)", async () => {
    const dir = project();
    const r = await runKiln(["test", "--timeout", "2147484"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("--timeout is at most 2147483 seconds");
    expect(r.stdout).not.toContain("passed");
  });

  it("--report-dir under /proc is refused at once instead of spinning (item 7)", async () => {
    const dir = project();
    const r = await runKiln(["test", "--report", "json", "--report-dir", "/proc/nope/reports"], {
      cwd: dir,
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/report directory: .*proc pseudo filesystem/);
    expect(r.stdout).not.toContain("passed");
    expect(ranNothing(dir)).toBe(true);
  });

  it("--report-dir that is a file, or below one, is a usage error before the run (item 7)", async () => {
    const dir = project();
    writeFileSync(join(dir, "afile"), "");
    for (const bad of ["afile", "afile/sub"]) {
      const r = await runKiln(["test", "--report", "json", "--report-dir", bad], { cwd: dir });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("is not a directory");
      expect(ranNothing(dir)).toBe(true);
    }
  });

  it("a new nested --report-dir under a writable directory is created (item 7)", async () => {
    const dir = project();
    const r = await runKiln(["test", "--report", "json", "--report-dir", "out/a/b"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "out", "a", "b", "index.html"))).toBe(true);
  });

  it("an unknown --report module is a usage error before the suite runs (item 8)", async () => {
    const dir = project();
    const r = await runKiln(["test", "--report", "junit,nosuch"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('unknown report module "nosuch"');
    expect(r.stdout).not.toContain("passed");
    expect(ranNothing(dir)).toBe(true);
  });

  it("a flag missing its value, or an unknown command, exits 4 not commander's 1", async () => {
    const dir = project();
    const missing = await runKiln(["test", "--timeout"], { cwd: dir });
    expect(missing.stderr).toContain("argument missing");
    expect(missing.code).toBe(4);
    const unknown = await runKiln(["nosuch"], { cwd: dir });
    expect(unknown.stderr).toContain("unknown command");
    expect(unknown.code).toBe(4);
    // --version and help are not errors.
    expect((await runKiln(["--version"], { cwd: dir })).code).toBe(0);
    expect((await runKiln(["test", "--kiln-help"], { cwd: dir })).code).toBe(0);
  });

  it("--python naming a program that is not Python says so and exits 4", async () => {
    const dir = project();
    const r = await runKiln(["test", "--python", "/bin/true"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("it does not behave like a Python interpreter");
    expect(r.stderr).toContain("--python PATH or KILN_PYTHON");
    expect(r.stderr).not.toContain("is above");
  });

  it("a --store kiln cache refuses is refused by kiln test too, before the run", async () => {
    const dir = project();
    const spec = "redis://127.0.0.1:99999";
    const test = await runKiln(["test", "--store", spec], { cwd: dir });
    const stats = await runKiln(["cache", "stats", "--store", spec], { cwd: dir });
    expect(test.code).toBe(4);
    expect(stats.code).toBe(4);
    expect(test.stderr).toContain(`--store "${spec}": not a store name or URL`);
    expect(stats.stderr).toContain(`--store "${spec}": not a store name or URL`);
    expect(ranNothing(dir)).toBe(true);
  });
});
