// Bad input gets one clear line and pytest's exit code for it.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pythonWithPytest, runKiln } from "../helpers/kiln.js";
import { copyProject, tempDir } from "../helpers/temp.js";

function kilnLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("kiln:"));
}

describe("bad input", () => {
  it("names a missing interpreter and exits 4", async () => {
    const r = await runKiln(["test", "--python", "/nonexistent/bin/python"], {
      cwd: copyProject("demo"),
    });
    expect(r.code).toBe(4);
    const lines = kilnLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("/nonexistent/bin/python");
    expect(lines[0]).toMatch(/no such file/);
  });

  it("says pytest is missing from the chosen interpreter and how to fix it", async () => {
    // `python -S` skips site-packages, so pytest is not importable there.
    const dir = tempDir("kiln-nopytest-");
    const wrapper = join(dir, "python-without-pytest");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${pythonWithPytest()} -S "$@"\n`);
    chmodSync(wrapper, 0o755);
    const r = await runKiln(["test"], { cwd: copyProject("demo"), env: { KILN_PYTHON: wrapper } });
    expect(r.code).toBe(4);
    const lines = kilnLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`pytest is not importable by ${wrapper}`);
    expect(lines[0]).toMatch(/pip install pytest|python3-pytest/);
  });

  it("refuses a Python older than 3.9 with the version it found", async () => {
    const dir = tempDir("kiln-oldpy-");
    const fake = join(dir, "python3.8");
    // Stands in for an old interpreter: the bootstrap's version check is what runs.
    writeFileSync(
      fake,
      `#!/bin/sh\nexec ${pythonWithPytest()} -c "import sys; code = sys.argv[2]; sys.argv = ['-c'] + sys.argv[3:]; sys.version_info = (3, 8, 0); exec(code)" "$@"\n`,
    );
    chmodSync(fake, 0o755);
    const r = await runKiln(["test", "--python", fake], { cwd: copyProject("demo") });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/Python 3\.8 .*too old: Kiln needs Python >= 3\.9/);
  });

  it("reports a nonexistent path the way pytest does, exit 4", async () => {
    const r = await runKiln(["test", "no_such_dir/test_nothing.py"], { cwd: copyProject("demo") });
    expect(r.code).toBe(4);
    expect(r.stderr + r.stdout).toContain(
      "file or directory not found: no_such_dir/test_nothing.py",
    );
  });

  it("reports a syntax error as a collection error, exit 2", async () => {
    const r = await runKiln(["test", "-p", "no:cacheprovider"], {
      cwd: copyProject("collection_errors"),
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("ERROR collecting test_syntax_error.py");
    expect(r.stdout).toContain("SyntaxError");
    expect(r.stdout).toMatch(/Interrupted: 2 errors during collection/);
  });

  it.each([
    [["-n", "many"], /-n expects a number/],
    [["--dist", "random"], /--dist must be one of module, class, test/],
    [["--timeout", "soon"], /--timeout expects seconds/],
  ])("rejects kiln flags %j with exit 4", async (args, message) => {
    const r = await runKiln(["test", ...args], { cwd: copyProject("demo") });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(message);
  });
});
