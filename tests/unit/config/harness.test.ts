import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HARNESS_DIR, type HarnessProgram, harnessArgs } from "../../../src/config/harness.js";
import { ExitCode } from "../../../src/protocol/exit-codes.js";
import { pythonWithPytest } from "../../helpers/kiln.js";

const python = pythonWithPytest();
const scratch = mkdtempSync(join(tmpdir(), "kiln-harness-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `program` from the source tree's harness, as Kiln starts it, in `cwd`. */
function run(program: HarnessProgram, cwd: string, prelude = "") {
  const [flag, boot, ...rest] = harnessArgs(program);
  return spawnSync(python, [flag as string, `${prelude}${boot}`, ...rest], {
    cwd,
    encoding: "utf8",
  });
}

describe("harnessArgs", () => {
  it("names the harness in this tree", () => {
    expect(harnessArgs("zygote")[2]).toBe(HARNESS_DIR);
    expect(harnessArgs("compile-server", "/elsewhere")).toEqual(
      expect.arrayContaining(["/elsewhere", "compile-server"]),
    );
  });

  it("runs the doctor probe, which answers what doctor-command.ts reads", () => {
    const r = run("doctor-probe", scratch);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(info)).toEqual(expect.arrayContaining(["executable", "pytest", "version"]));
    expect(info.version).toMatch(/^3\.\d+\.\d+/);
    expect(info).toMatchObject({ tooOld: false, minPython: "3.9" });
    expect(info.pytest).toMatch(/^\d+\.\d+/);
    if (process.arch === "x64" || process.arch === "arm64") {
      expect(typeof info.landlockAbi).toBe("number");
    }
  });

  it("probes the pytest the zygote would import: the working directory's first", () => {
    const dir = mkdtempSync(join(scratch, "shadow-"));
    writeFileSync(join(dir, "pytest.py"), "__version__ = '0.0.shadow'\n");
    const info = JSON.parse(run("doctor-probe", dir).stdout) as Record<string, unknown>;
    expect(info.pytest).toBe("0.0.shadow");
  });

  it("refuses a Python older than 3.9 as a usage error, except for the doctor's probe", () => {
    const old = "import sys; sys.version_info = (3, 8, 0)\n";
    for (const program of ["zygote", "compile-server"] as const) {
      const r = run(program, scratch, old);
      expect(r.status).toBe(ExitCode.USAGE_ERROR);
      expect(r.stderr).toMatch(/kiln: Python 3\.8 at .* is too old: Kiln needs Python >= 3\.9/);
    }
    const probe = run("doctor-probe", scratch, old);
    expect(probe.status).toBe(ExitCode.OK);
    expect(JSON.parse(probe.stdout)).toMatchObject({ tooOld: true, minPython: "3.9" });
  });
});
