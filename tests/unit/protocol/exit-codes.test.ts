import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../../src/protocol/exit-codes.js";
import { HARNESS, pythonWithPytest } from "../../helpers/kiln.js";

describe("exit codes", () => {
  it("are the same table in TypeScript and in the harness", () => {
    const r = spawnSync(pythonWithPytest(), ["-m", "kiln_harness.exit_codes"], {
      cwd: HARNESS,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...ExitCode });
  });

  it("keep pytest's statuses for `kiln test`", () => {
    // The rest of pytest's table is checked against pytest.ExitCode in
    // python/tests/test_exit_codes.py.
    expect([ExitCode.OK, ExitCode.TESTS_FAILED, ExitCode.INTERRUPTED]).toEqual([0, 1, 2]);
    expect([ExitCode.INTERNAL_ERROR, ExitCode.USAGE_ERROR, ExitCode.NO_TESTS_COLLECTED]).toEqual([
      3, 4, 5,
    ]);
  });
});
