// `kiln check` end to end, on temp copies of tests/fixtures/check/<name>.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { type KilnResult, pythonWithPytest, REPO, runKiln } from "../helpers/kiln.js";
import { copyProject, tempDir } from "../helpers/temp.js";

const FIXTURES = join(REPO, "tests/fixtures/check");

function copyFixture(name: string): string {
  return copyProject(join(FIXTURES, name));
}

function write(dir: string, rel: string, text: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

function edit(dir: string, rel: string, from: string, to: string): void {
  const path = join(dir, rel);
  const before = readFileSync(path, "utf8");
  expect(before).toContain(from);
  writeFileSync(path, before.split(from).join(to));
}

function check(dir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return runKiln(["check", "--explain", ...args], { cwd: dir, env });
}

/** The --explain lines as {"analysed": [...], "checked": [...], ...}. */
function explained(r: KilnResult): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of r.stderr.split("\n")) {
    const m = /^kiln check: (analysed|reused analysis|checked|reused results|removed): (.*)$/.exec(
      line,
    );
    if (m) out[m[1] as string] = m[2] === "(none)" ? [] : (m[2] as string).split(" ");
  }
  const server = /^kiln check: compile server: (.*)$/m.exec(r.stderr);
  out.server = server ? [server[1] as string] : [];
  return out;
}

function lines(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l !== "");
}

describe("kiln check: incremental over the a -> b -> c chain", () => {
  it("reports a name that disappears from b, re-analysing b and re-checking a and b", async () => {
    const dir = copyFixture("chain");
    const first = await check(dir);
    expect(first.stderr).toContain("3 files, no problems");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("");
    expect(explained(first)).toMatchObject({
      analysed: ["a", "b", "c"],
      checked: ["a", "b", "c"],
      server: ["started"],
    });
    expect(existsSync(join(dir, ".kiln/check-cache.json"))).toBe(true);
    // The hashes live in the project's one hash cache, shared with `kiln test`.
    expect(existsSync(join(dir, ".kiln/files.json"))).toBe(true);

    const again = await check(dir);
    expect(again.code).toBe(0);
    expect(explained(again)).toEqual({
      analysed: [],
      "reused analysis": ["a", "b", "c"],
      checked: [],
      "reused results": ["a", "b", "c"],
      removed: [],
      server: ["not started"],
    });

    edit(dir, "b.py", "def helper(", "def renamed_helper(");
    const broken = await check(dir);
    expect(broken.code).toBe(1);
    expect(lines(broken.stdout)).toEqual([
      "a.py:2: ImportError: cannot import name 'helper' from 'b' (b.py)",
    ]);
    expect(explained(broken)).toEqual({
      analysed: ["b"],
      "reused analysis": ["a", "c"],
      checked: ["a", "b"],
      "reused results": ["c"],
      removed: [],
      server: ["started"],
    });

    // Unchanged since: the problem is reported again from the cache.
    const cached = await check(dir);
    expect(cached.code).toBe(1);
    expect(lines(cached.stdout)).toEqual(lines(broken.stdout));
    expect(explained(cached)).toMatchObject({ analysed: [], checked: [], server: ["not started"] });

    edit(dir, "b.py", "def renamed_helper(", "def helper(");
    const fixed = await check(dir);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toBe("");
    expect(explained(fixed)).toMatchObject({ analysed: ["b"], checked: ["a", "b"] });
  });

  it("reports b when a name it imports from c disappears, re-checking a and b", async () => {
    const dir = copyFixture("chain");
    expect((await check(dir)).code).toBe(0);
    edit(dir, "c.py", "def base(", "def other_base(");
    const r = await check(dir);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      "b.py:2: ImportError: cannot import name 'base' from 'c' (c.py)",
    ]);
    expect(explained(r)).toEqual({
      analysed: ["c"],
      "reused analysis": ["a", "b"],
      checked: ["a", "b", "c"],
      "reused results": [],
      removed: [],
      server: ["started"],
    });
  });

  it("an edit to a leaf re-checks only the leaf", async () => {
    const dir = copyFixture("chain");
    expect((await check(dir)).code).toBe(0);
    edit(dir, "a.py", "VALUE = helper()", "VALUE = helper() + 1");
    const r = await check(dir);
    expect(r.code).toBe(0);
    expect(explained(r)).toMatchObject({
      analysed: ["a"],
      checked: ["a"],
      "reused results": ["b", "c"],
    });
  });

  it("re-checks importers when a module is deleted or created", async () => {
    const dir = copyFixture("chain");
    write(dir, "a.py", "from b import helper\nfrom c import extra\n\nVALUE = helper()\n");
    const first = await check(dir);
    expect(lines(first.stdout)).toEqual([
      "a.py:2: ImportError: cannot import name 'extra' from 'c' (c.py)",
    ]);
    // A new module d, imported as a submodule-less top-level import.
    write(dir, "a.py", "from b import helper\nimport d\n\nVALUE = helper()\n");
    expect((await check(dir)).code).toBe(0);
    rmSync(join(dir, "c.py"));
    const gone = await check(dir);
    // c is no longer a project module, so importing it is not judged; but
    // its importers were re-checked.
    expect(explained(gone)).toMatchObject({ removed: ["c"], checked: ["a", "b"], analysed: [] });
    expect(gone.code).toBe(0);
  });

  it("KILN_CHECK_TRACE=1 explains too", async () => {
    const dir = copyFixture("chain");
    const r = await runKiln(["check"], { cwd: dir, env: { KILN_CHECK_TRACE: "1" } });
    expect(r.code).toBe(0);
    expect(explained(r)).toMatchObject({ analysed: ["a", "b", "c"], server: ["started"] });
    const quiet = await runKiln(["check"], { cwd: dir });
    expect(quiet.stderr).not.toContain("analysed:");
  });

  it("starts the interpreter only when something needs compiling", async () => {
    const dir = copyFixture("chain");
    const bin = tempDir("kiln-check-python-");
    const log = join(bin, "calls.log");
    const wrapper = join(bin, "python");
    writeFileSync(wrapper, `#!/bin/sh\necho started >> ${log}\nexec ${pythonWithPytest()} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const count = () => (existsSync(log) ? lines(readFileSync(log, "utf8")).length : 0);
    expect((await check(dir, ["--python", wrapper])).code).toBe(0);
    expect(count()).toBe(1);
    expect((await check(dir, ["--python", wrapper])).code).toBe(0);
    expect(count()).toBe(1);
    edit(dir, "c.py", "return 1", "return 2");
    expect((await check(dir, ["--python", wrapper])).code).toBe(0);
    expect(count()).toBe(2);
  });

  it("--no-cache re-analyses everything and writes no cache", async () => {
    const dir = copyFixture("chain");
    const r = await check(dir, ["--no-cache"]);
    expect(r.code).toBe(0);
    expect(explained(r)).toMatchObject({ analysed: ["a", "b", "c"] });
    expect(existsSync(join(dir, ".kiln"))).toBe(false);
  });
});

describe("kiln check: what it reports", () => {
  it("reports syntax errors, missing project modules and names, one line each", async () => {
    const dir = copyFixture("problems");
    // Never walked: broken files in places that are not the project's.
    for (const skipped of [".hidden/x.py", "venv/bad.py", "node_modules/y.py", "build/z.py"]) {
      write(dir, skipped, "def (:\n");
    }
    write(dir, "venv/pyvenv.cfg", "home = /usr/bin\n");
    const r = await check(dir);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      "app.py:3: ModuleNotFoundError: No module named 'pkg.nope'",
      "app.py:4: ImportError: cannot import name 'absent' from 'pkg' (pkg/__init__.py)",
      "app.py:6: ImportError: cannot import name 'missing' from 'pkg.core' (pkg/core.py)",
      "app.py:7: ImportError: cannot import name 'NOPE' from 'lib_in_src' (src/lib_in_src/__init__.py)",
      "app.py:18: ImportError: cannot import name 'gone' from 'pkg.sub.leaf' (pkg/sub/leaf.py)",
      "broken.py:3: SyntaxError: invalid syntax",
      "pkg/sub/leaf.py:3: ImportError: attempted relative import beyond top-level package",
    ]);
    expect(r.stderr).toContain("9 files, 7 problems");

    // Creating the missing module re-checks its importer, and only what it affects.
    write(dir, "pkg/nope.py", "X = 1\n");
    const after = await check(dir);
    expect(lines(after.stdout)).not.toContain(
      "app.py:3: ModuleNotFoundError: No module named 'pkg.nope'",
    );
    expect(lines(after.stdout)).toHaveLength(6);
    expect(explained(after)).toMatchObject({ analysed: ["pkg.nope"] });
    expect(explained(after).checked).toEqual(expect.arrayContaining(["app", "pkg.nope"]));
    expect(explained(after).checked).not.toContain("broken");
  });

  it("reads files in their declared encoding", async () => {
    const dir = copyFixture("chain");
    writeFileSync(
      join(dir, "c.py"),
      Buffer.from(
        "# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n\ndef base():\n    return 1\n",
        "latin1",
      ),
    );
    const r = await check(dir);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
  });

  it("refuses a directory that does not exist, exit 4", async () => {
    const dir = copyFixture("chain");
    const r = await runKiln(["check", "no/such/dir"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no\/such\/dir: not a directory/);
  });

  it.each([[["--bogus"]], [["a", "b"]]])("refuses bad arguments %j, exit 4", async (args) => {
    const dir = copyFixture("chain");
    const r = await runKiln(["check", ...args], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/error: (unknown option '--bogus'|too many arguments)/);
  });

  it("refuses a missing interpreter, exit 4", async () => {
    const dir = copyFixture("chain");
    const r = await runKiln(["check", "--python", "/nonexistent/python3"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("/nonexistent/python3");
  });

  it("checks another directory given as an argument", async () => {
    const dir = copyFixture("chain");
    edit(dir, "c.py", "def base(", "def gone(");
    const r = await runKiln(["check", dir], { cwd: tmpdir() });
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      "b.py:2: ImportError: cannot import name 'base' from 'c' (c.py)",
    ]);
  });
});
