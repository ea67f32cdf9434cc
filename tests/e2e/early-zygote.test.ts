// `kiln test` starts its zygote from main.ts, before the CLI has loaded
// (cli/early-zygote.ts): the run must use that zygote, and a command that
// never runs must not leave it behind.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { runKiln } from "../helpers/kiln.js";
import { processAlive } from "../helpers/processes.js";
import { copyProject } from "../helpers/temp.js";

function earlyPid(stderr: string): number {
  const m = /kiln: debug: zygote started early \(pid (\d+), /.exec(stderr);
  if (m === null) throw new Error(`no early zygote in:\n${stderr}`);
  return Number(m[1]);
}

describe("the zygote started before the CLI loads", () => {
  it("is the run's zygote", async () => {
    const dir = copyProject("demo");
    const r = await runKiln(["test", "-n", "1"], { cwd: dir, env: { KILN_DEBUG: "1" } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const spawned = readFileSync(join(dir, ".kiln/runs/latest/workers.jsonl"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { event: string; pid?: number })
      .filter((e) => e.event === "zygote:spawned");
    expect(spawned.map((e) => e.pid)).toEqual([earlyPid(r.stderr)]);
  });

  it.each([
    [["-n", "many"], 4],
    [["--kiln-help"], 0],
  ])("is ended when `kiln test %j` runs nothing", async (args, code) => {
    const r = await runKiln(["test", ...args], {
      cwd: copyProject("demo"),
      env: { KILN_DEBUG: "1" },
      timeoutMs: 20_000,
    });
    expect(r.code, r.stderr).toBe(code);
    const pid = earlyPid(r.stderr);
    await vi.waitFor(() => expect(processAlive(pid)).toBe(false), { timeout: 2_000, interval: 20 });
  });
});
