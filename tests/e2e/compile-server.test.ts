// The compile server end to end: a real Python process, real frames.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CompiledModuleInfo,
  type CompileOutcome,
  CompileServer,
  CompileServerError,
  HARNESS_DIR,
  isCompileFailure,
} from "../../src/registry/compile-client.js";
import { HARNESS, pythonWithPytest } from "../helpers/kiln.js";

let dir: string;
let server: CompileServer;
const python = pythonWithPytest();

function write(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function py(code: string, input?: Buffer): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(python, ["-c", code], { input, encoding: "buffer" });
  return {
    stdout: r.stdout.toString("utf8"),
    stderr: r.stderr.toString("utf8"),
    status: r.status ?? -1,
  };
}

/** Unmarshal `code` in a fresh Python, exec it, then run `then` (Python source). */
function execCode(code: Buffer, then: string): { stdout: string; stderr: string; status: number } {
  return py(
    [
      "import sys, marshal",
      "code = marshal.loads(sys.stdin.buffer.read())",
      "ns = {'__name__': 'm'}",
      "exec(code, ns)",
      then,
    ].join("\n"),
    code,
  );
}

function ok(outcome: CompileOutcome | undefined): CompiledModuleInfo {
  if (!outcome || isCompileFailure(outcome)) {
    throw new Error(`expected a compiled module, got ${JSON.stringify(outcome)}`);
  }
  return outcome;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kiln-compile-"));
  server = await CompileServer.start(python, HARNESS);
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("compile server", () => {
  it("finds the harness next to the sources", () => {
    expect(HARNESS_DIR).toBe(HARNESS);
  });

  it("says hello with the interpreter's magic, cache tag and pytest version", () => {
    const facts = py(
      "import importlib.util, sys, platform, pytest; " +
        "print(importlib.util.MAGIC_NUMBER.hex(), sys.implementation.cache_tag, " +
        "pytest.__version__, platform.python_version())",
    ).stdout.trim();
    const info = server.info;
    expect(`${info.magic} ${info.cacheTag} ${info.pytest} ${info.python}`).toBe(facts);
  });

  it("returns header-less bytecode that runs as the module", async () => {
    const path = write(
      "pkg/mod.py",
      "import os\n\ndef double(x, y=2, *rest, k, **kw):\n    from . import sibling\n    return x * y\n\nVALUE = 6 * 7\n",
    );
    const [outcome] = await server.compile([
      { path, module: "pkg.mod", isPackage: false, rewrite: false },
    ]);
    const module = ok(outcome);
    expect(module.path).toBe(path);
    expect(module.magic).toBe(server.info.magic);
    expect(module.cacheTag).toBe(server.info.cacheTag);
    expect(module.optimize).toBe(0);
    expect(module.rewrittenBy).toBeNull();
    expect(module.sourceHash).toMatch(/^[0-9a-f]{64}$/);
    // marshal's TYPE_CODE, with or without FLAG_REF: no 16-byte pyc header.
    expect([0xe3, 0x63]).toContain(module.code[0]);
    expect(module.code.subarray(0, 2).toString("hex")).not.toBe(module.magic.slice(0, 4));
    const run = execCode(module.code, "print(ns['VALUE'], ns['double'].__code__.co_filename)");
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(`42 ${path}`);
    expect(module.imports.map((i) => [i.module, i.names ?? null, i.level, i.conditional])).toEqual([
      ["os", null, 0, false],
      ["pkg", ["sibling"], 1, true],
    ]);
    expect(module.names.find((n) => n.name === "double")).toEqual({
      name: "double",
      kind: "function",
      line: 3,
      signature: "(x, y=2, *rest, k, **kw)",
    });
    expect(module.allNames).toEqual(["VALUE", "double", "os"]);
    expect(module.dynamicNames).toBe(false);
  });

  it("returns the same bytes CPython's own compiler caches (pyc minus header)", async () => {
    const path = write("same.py", "'''doc'''\nX = [i for i in range(3)]\n");
    const [outcome] = await server.compile([
      { path, module: "same", isPackage: false, rewrite: false },
    ]);
    const check = execCode(
      ok(outcome).code,
      [
        "import importlib.machinery",
        `p = ${JSON.stringify(path)}`,
        "loader = importlib.machinery.SourceFileLoader('same', p)",
        "print(code == loader.source_to_code(open(p, 'rb').read(), p))",
      ].join("\n"),
    );
    expect(check.stdout.trim()).toBe("True");
  });

  it("reports syntax errors as data with their line", async () => {
    const good = write("good.py", "X = 1\n");
    const bad = write("bad.py", "X = 1\n\ndef broken(:\n    pass\n");
    const [first, second] = await server.compile([
      { path: good, module: "good", isPackage: false, rewrite: false },
      { path: bad, module: "bad", isPackage: false, rewrite: false },
    ]);
    ok(first);
    expect(second).toMatchObject({ failed: true, path: bad, line: 3 });
    expect(second && isCompileFailure(second) ? second.message : "").toMatch(/^SyntaxError/);
  });

  it("honours PEP 263 coding cookies", async () => {
    const path = write(
      "latin.py",
      Buffer.from("# -*- coding: latin-1 -*-\nWORD = 'caf\xe9'\n", "latin1"),
    );
    const [outcome] = await server.compile([
      { path, module: "latin", isPackage: false, rewrite: false },
    ]);
    const run = execCode(ok(outcome).code, "print(ascii(ns['WORD']))");
    expect(run.stdout.trim()).toBe("'caf\\xe9'");
  });

  it("applies pytest's assertion rewriting to test modules", async () => {
    const path = write(
      "test_rewrite.py",
      "def f():\n    return 3\n\n\ndef test_equal():\n    assert f() == 4\n",
    );
    const file = { path, module: "test_rewrite", isPackage: false };
    const [plain, rewritten] = await server.compile([
      { ...file, rewrite: false },
      { ...file, rewrite: true },
    ]);
    const plainCode = ok(plain);
    const rewrittenCode = ok(rewritten);
    expect(rewrittenCode.rewrittenBy).toBe(server.info.pytest);
    expect(rewrittenCode.sourceHash).toBe(plainCode.sourceHash);
    expect(rewrittenCode.code.equals(plainCode.code)).toBe(false);
    const run = execCode(
      rewrittenCode.code,
      ["try:", "    ns['test_equal']()", "except AssertionError as e:", "    print(e)"].join("\n"),
    );
    expect(run.stdout).toContain("assert 3 == 4");
    expect(run.stdout).toMatch(/\+ {2}where 3 = .*f\(\)/);
    const bare = execCode(
      plainCode.code,
      ["try:", "    ns['test_equal']()", "except AssertionError as e:", "    print(repr(e))"].join(
        "\n",
      ),
    );
    expect(bare.stdout.trim()).toBe("AssertionError()");
  });

  it("splits large requests into batches and keeps the order", async () => {
    const small = await CompileServer.start(python, HARNESS, { batchSize: 3 });
    try {
      const files = Array.from({ length: 10 }, (_, i) => ({
        path: write(`many/m${i}.py`, i === 4 ? "def (\n" : `N = ${i}\n`),
        module: `m${i}`,
        isPackage: false,
        rewrite: false,
      }));
      const outcomes = await small.compile(files);
      expect(outcomes.map((o) => o.path)).toEqual(files.map((f) => f.path));
      expect(outcomes.map((o) => isCompileFailure(o))).toEqual(files.map((_, i) => i === 4));
      const concurrent = await Promise.all([small.compile(files.slice(0, 2)), small.compile([])]);
      expect(concurrent.map((r) => r.length)).toEqual([2, 0]);
    } finally {
      await small.close();
    }
  });

  it("rejects pending and later work with a clear error when the process dies", async () => {
    const doomed = await CompileServer.start(python, HARNESS);
    const pid = doomed.pid as number;
    process.kill(pid, "SIGKILL");
    const path = write("late.py", "X = 1\n");
    await expect(
      doomed.compile([{ path, module: "late", isPackage: false, rewrite: false }]),
    ).rejects.toThrow(/compile server .* was killed by SIGKILL/);
    await expect(doomed.compile([])).rejects.toBeInstanceOf(CompileServerError);
    await doomed.close();
  });

  it("fails to start with a missing interpreter, naming it", async () => {
    await expect(CompileServer.start("/nonexistent/python3", HARNESS)).rejects.toThrow(
      /\/nonexistent\/python3/,
    );
  });

  it("fails to start when the harness is missing, with Python's stderr", async () => {
    await expect(CompileServer.start(python, join(dir, "no-harness"))).rejects.toThrow(
      /No module named 'kiln_harness'/,
    );
  });
});
