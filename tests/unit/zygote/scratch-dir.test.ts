import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createScratchDir, sweepOrphanedScratchDirs } from "../../../src/zygote/scratch-dir.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function root(): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-scratch-test-"));
  roots.push(dir);
  return dir;
}

/** The pid of a process that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

describe("scratch dirs", () => {
  it("carry the supervisor's pid", () => {
    const dir = createScratchDir(root());
    expect(dir).toMatch(new RegExp(`/kiln-run-${process.pid}-[^/]+$`));
  });

  it("of a supervisor that is gone are removed; live and foreign ones stay", () => {
    const r = root();
    const orphan = join(r, `kiln-run-${deadPid()}-abc123`);
    const live = join(r, `kiln-run-${process.pid}-def456`);
    const foreign = join(r, "kiln-debugger-xyz");
    for (const dir of [orphan, live, foreign]) mkdirSync(join(dir, "inner"), { recursive: true });
    expect(sweepOrphanedScratchDirs(r)).toEqual([orphan]);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
  });

  it("are swept when the next run creates its own", () => {
    const r = root();
    const orphan = join(r, `kiln-run-${deadPid()}-zzz`);
    mkdirSync(orphan);
    const mine = createScratchDir(r);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(mine)).toBe(true);
  });
});
