import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reportDirProblem } from "../../../src/reports/output-dir.js";

const base = mkdtempSync(join(tmpdir(), "kiln-outdir-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("reportDirProblem (issue 9, item 7)", () => {
  it("accepts an existing or creatable directory under a writable one", () => {
    mkdirSync(join(base, "there"));
    expect(reportDirProblem("there", base)).toBeUndefined();
    expect(reportDirProblem("new/deeper/still", base)).toBeUndefined();
    expect(reportDirProblem(join(base, "abs"), "/")).toBeUndefined();
  });

  it("refuses pseudo filesystems, where mkdir -p spins forever on Node 20", () => {
    expect(reportDirProblem("/proc/nope", base)).toMatch(/proc pseudo filesystem/);
    expect(reportDirProblem("/proc/self/nope/x", base)).toMatch(/proc pseudo filesystem/);
    expect(reportDirProblem("/sys/nope", base)).toMatch(/sys(fs)? pseudo filesystem/);
  });

  it("refuses a file, or a path below one", () => {
    writeFileSync(join(base, "file"), "");
    expect(reportDirProblem("file", base)).toMatch(/file is not a directory/);
    expect(reportDirProblem("file/sub", base)).toMatch(
      /cannot be created: .*file is not a directory/,
    );
  });

  it.skipIf(process.getuid?.() === 0)("refuses a read-only parent", () => {
    const ro = join(base, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      expect(reportDirProblem("ro/sub", base)).toMatch(/not writable/);
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});
