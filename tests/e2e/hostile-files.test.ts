// Hostile environment and damaged files around `kiln test` and `kiln report`
// (issue 9): a nonsense KILN_KEEP_RUNS, a truncated manifest.json, a
// durations.json full of NULs. Each copies a fixture project to a temp dir.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runKiln } from "../helpers/kiln.js";
import { copyProject } from "../helpers/temp.js";

let dir: string;

beforeEach(() => {
  dir = copyProject("basic");
});

function hasControlBytes(text: string): boolean {
  return [...text].some((c) => {
    const code = c.codePointAt(0) as number;
    return (code < 0x20 && c !== "\n") || (code >= 0x7f && code <= 0x9f);
  });
}

describe("hostile files and environment", () => {
  it.each(["0", "-1", "abc"])("KILN_KEEP_RUNS=%s is a usage error before the run", async (v) => {
    const r = await runKiln(["test", "-n", "1"], { cwd: dir, env: { KILN_KEEP_RUNS: v } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`kiln: error: KILN_KEEP_RUNS must be a whole number`);
    expect(r.stderr).toContain(`got ${JSON.stringify(v)}`);
    expect(r.stdout).not.toContain("test session starts");
  });

  it("kiln report rebuilds a truncated manifest.json instead of failing", async () => {
    await runKiln(["test", "-n", "1", "-q"], { cwd: dir });
    const manifestPath = join(dir, ".kiln", "runs", "latest", "manifest.json");
    const whole = readFileSync(manifestPath, "utf8");
    writeFileSync(manifestPath, whole.slice(0, Math.floor(whole.length / 3)));
    const r = await runKiln(["report", ".", "--report", "json", "-o", join(dir, "out")], {
      cwd: dir,
    });
    expect(r.stderr).toMatch(/manifest\.json is unreadable .*rebuilt it from the records/);
    expect(r.stderr).not.toContain("SyntaxError");
    expect(r.code).toBe(0);
  });

  it("a durations.json of NULs gives a printable warning and a normal run", async () => {
    await runKiln(["test", "-n", "1", "-q"], { cwd: dir });
    writeFileSync(join(dir, ".kiln", "durations.json"), Buffer.alloc(65536, 0));
    const r = await runKiln(["test", "-n", "1", "-q"], { cwd: dir });
    expect(r.stderr).toMatch(/kiln: warning: ignoring .*durations\.json: not valid JSON/);
    expect(r.stderr).toContain("\\x00");
    expect(hasControlBytes(r.stderr)).toBe(false);
    expect(r.stderr.length).toBeLessThan(2000);
  });
});
