// A worker keeps pytest's TerminalReporter registered (writing to /dev/null):
// pytest 8.x's assertrepr_compare calls config.get_terminal_writer(), which
// asserts the reporter exists, so without it every introspected assert under
// pytest 8 failed inside pytest instead of showing its diff.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, runKiln } from "../helpers/kiln.js";
import { copyProject } from "../helpers/temp.js";

const PYTEST_84 = join(REPO, ".venvs/pytest-8.4/bin/python");

describe("the worker's terminal reporter", () => {
  it("lets pytest 8.4 render assertion diffs, and prints nothing itself", async () => {
    expect(existsSync(PYTEST_84), "run scripts/setup.sh (it creates .venvs/)").toBe(true);
    const dir = copyProject("basic");
    const result = await runKiln(
      [
        "test",
        "--python",
        PYTEST_84,
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "-k",
        "add_wrong or list_compare",
      ],
      { cwd: dir, timeoutMs: 120_000 },
    );
    const out = result.stdout;
    expect(out).toContain("E       assert 3 == 4");
    expect(out).toContain("E       assert [0, 2, 4, 6, 8] == [0, 2, 4, 7, 8]");
    expect(out).not.toContain("get_terminal_writer");
    // Only the zygote's reporter prints: one header, one summary line.
    expect(out.match(/^=+ test session starts =+$/gm)).toHaveLength(1);
    expect(out.match(/^=+ .*2 failed.* =+$/gm)).toHaveLength(1);
    expect(result.code).toBe(1);
  }, 150_000);
});
