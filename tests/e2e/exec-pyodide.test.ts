// The pyodide runtime's own promises (issue 14), over real HTTP: no network
// (a real TCP listener on loopback sees no connection), no new JS code, no
// host file system, a fresh instance per request, code that ignores the
// interrupt still stopped at its time limit, the snapshot cached under
// .kiln/ and reused; and the same answers as the native runtime for the
// same requests (timings, worker ids and traceback caret lines aside: the
// two runtimes' Pythons differ in version).
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/protocol/exit-codes.js";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { runKiln } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

let pyodide: ExecServer;
let cwd: string;
let listener: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  cwd = tempDir("kiln-exec-pyodide-");
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()));
  port = (listener.address() as { port: number }).port;
  pyodide = await startExecServer(["--runtime", "pyodide", "--output-cap", "1000"], { cwd });
});

afterAll(async () => {
  await pyodide?.stop();
  await new Promise((resolve) => listener?.close(resolve));
});

type Json = Record<string, unknown>;
const errorOf = (r: { json: Json }) => r.json.error as { type: string; message: string };

describe("no network, no JS, no host files", () => {
  // Functions of the listener's port, known only once beforeAll ran.
  const attempts: [string, (port: number) => string][] = [
    [
      "a TCP socket",
      (p) => `import socket\nsocket.create_connection(('127.0.0.1', ${p}), timeout=2)`,
    ],
    ["urllib", (p) => `import urllib.request\nurllib.request.urlopen('http://127.0.0.1:${p}/')`],
    [
      "a listening socket",
      () => "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()",
    ],
    ["JS fetch", (p) => `import js\njs.fetch('http://127.0.0.1:${p}/')`],
  ];
  for (const [what, code] of attempts) {
    it(`refuses ${what}, and nothing reaches the listener`, async () => {
      const r = await postExec(pyodide.url, { code: code(port) });
      expect(r.status).toBe(200);
      expect(r.json.exit_code).toBe(1);
      expect(r.json.error).toBeDefined();
      expect(connections).toBe(0);
    });
  }

  it("refuses to make JS code (the Function constructor, eval)", async () => {
    const r = await postExec(pyodide.url, {
      code: "import js\njs.constructor.constructor('return process.pid')()",
    });
    expect(errorOf(r).message).toContain("no JS code generation");
  });

  it("refuses JS code through ctypes too (emscripten_run_script evals a C string)", async () => {
    const r = await postExec(pyodide.url, {
      code: "import ctypes\nctypes.CDLL(None).emscripten_run_script(b'globalThis.kilnEscaped = 1')\nprint('ran')",
    });
    // Pyodide treats the JS error inside a C call as fatal: the instance ends unanswered.
    expect(errorOf(r).type).toBe("WorkerDied");
    expect(r.json.stdout).not.toContain("ran");
    const said = `${r.json.stdout}${r.json.stderr}${pyodide.output()}`;
    expect(said).toContain("ReferenceError: eval is not defined");
    expect((await postExec(pyodide.url, { code: "print(1)" })).json.stdout).toBe("1\n");
  });

  it("gives no way back to the Pyodide API (mountNodeFS, loadPackage)", async () => {
    const r = await postExec(pyodide.url, {
      code: "import sys\nsys.modules.pop('pyodide_js', None)\nimport pyodide_js",
    });
    expect(errorOf(r).type).toBe("ModuleNotFoundError");
  });

  it("sees none of the host's files", async () => {
    writeFileSync(join(cwd, "host-secret.txt"), "secret");
    const r = await postExec(pyodide.url, {
      code: `import os\n[os.path.exists(p) for p in (${JSON.stringify(join(cwd, "host-secret.txt"))}, '/etc/passwd', '/root')]`,
    });
    expect(r.json.result).toEqual([false, false, false]);
  });
});

describe("what Wasm cannot do is a clear error, not a hang or a crash", () => {
  // Emscripten has no processes and Pyodide is built without threads: the
  // code gets Python's own errors for them (README: "What the Wasm runtime
  // cannot do"). exec-limits' fork bomb is native-only for this reason.
  const cannot: [string, string, string, string][] = [
    ["fork", "import os\nos.fork()", "OSError", "Function not implemented"],
    [
      "a subprocess",
      "import subprocess\nsubprocess.run(['true'])",
      "OSError",
      "does not support processes",
    ],
    [
      "a thread",
      "import threading\nthreading.Thread(target=print).start()",
      "RuntimeError",
      "can't start new thread",
    ],
  ];
  for (const [what, code, type, message] of cannot) {
    it(`refuses ${what} with ${type}`, async () => {
      const r = await postExec(pyodide.url, { code });
      expect(r.status).toBe(200);
      expect(r.json.exit_code).toBe(1);
      expect(errorOf(r).type).toBe(type);
      expect(errorOf(r).message).toContain(message);
    });
  }
});

describe("instances", () => {
  it("gives each request a fresh instance", async () => {
    await postExec(pyodide.url, { code: "import builtins\nbuiltins.LEFT_BEHIND = 1" });
    const r = await postExec(pyodide.url, {
      code: "import builtins\nhasattr(builtins, 'LEFT_BEHIND')",
    });
    expect(r.json.result).toBe(false);
  });

  it("stops code that never checks the interrupt (a long C loop) at its time limit", async () => {
    const r = await postExec(pyodide.url, { code: "sum(range(10 ** 15))", timeout_ms: 500 });
    expect(r.json).toMatchObject({ exit_code: 137, limits_hit: ["time"] });
    expect(errorOf(r).type).toBe("TimeoutError");
    expect((await postExec(pyodide.url, { code: "6 * 7" })).json.result).toBe(42);
  });

  it("caches the snapshot under .kiln/pyodide and boots from it again", async () => {
    const [snapshot] = (await import("node:fs"))
      .readdirSync(join(cwd, ".kiln", "pyodide"))
      .filter((n) => n.endsWith(".bin"));
    expect(snapshot).toMatch(/^snapshot-\d+\.\d+\.\d+-[0-9a-f]{16}\.bin$/);
    const path = join(cwd, ".kiln", "pyodide", snapshot as string);
    const before = statSync(path).mtimeMs;
    const r = await runKiln(["exec", "--runtime", "pyodide", "-c", "print('local')"], { cwd });
    expect(r).toMatchObject({ code: 0, stdout: "local\n" });
    expect(statSync(path).mtimeMs).toBe(before);
  });

  it("serves workspace modules from the store through the same finder, with source lines", async () => {
    const src = join(cwd, "ws-src");
    mkdirSync(join(src, "shared"), { recursive: true });
    mkdirSync(join(src, "nsp"));
    writeFileSync(
      join(src, "shared", "__init__.py"),
      "from .b import g\ndef f(x):\n    return g(x) + 1\ndef boom():\n    raise ValueError('boom')\n",
    );
    writeFileSync(join(src, "shared", "b.py"), "def g(x):\n    return x * 2\n");
    writeFileSync(join(src, "nsp", "m.py"), "V = 7\n");
    const push = await runKiln(["workspace", "push", "demo", src, "--store", "sqlite"], { cwd });
    expect(push.code).toBe(0);
    const code =
      "import shared, nsp.m\nprint(shared.f(20), nsp.m.V, shared.__file__)\nshared.boom()";
    const r = await runKiln(
      ["exec", "--runtime", "pyodide", "--workspace", "demo", "--store", "sqlite", "-c", code],
      { cwd },
    );
    expect(r.stdout).toBe("41 7 /<kiln-workspace>/demo/shared/__init__.py\n");
    expect(r.stderr).toContain('File "/<kiln-workspace>/demo/shared/__init__.py", line 5, in boom');
    expect(r.stderr).toContain("raise ValueError('boom')");
    expect(r.code).toBe(1);
  });

  it("refuses --preload of a package no wheel gives (Kiln vendors none), and never fetches it", async () => {
    const refused = await runKiln(
      ["serve", "--runtime", "pyodide", "--preload", "numpy", "--port", "0"],
      { cwd, timeoutMs: 120_000 },
    );
    expect(refused.code).toBe(ExitCode.USAGE_ERROR);
    expect(refused.stderr).toContain("--preload numpy: no module numpy in the pyodide runtime");
    expect(connections).toBe(0);
  });
});

describe("same answers as native", () => {
  let native: ExecServer;
  let wasm: ExecServer;

  beforeAll(async () => {
    const dir = tempDir("kiln-exec-parity-");
    const start = (runtime: string) =>
      startExecServer(["--runtime", runtime, "--output-cap", "1000"], { cwd: dir });
    [native, wasm] = await Promise.all([start("native"), start("pyodide")]);
  });

  afterAll(async () => {
    await Promise.all([native?.stop(), wasm?.stop()]);
  });

  const requests: Json[] = [
    { code: "print(1)" },
    { code: "x = 20\n{'a': [x, x + 1], 'b': None}" },
    { code: "class C:\n  def __repr__(self): return 'C!'\nC()" },
    { code: "def f():\n    return 1 / 0\nf()" },
    { code: "import sys; sys.exit(3)" },
    { code: "import sys; sys.exit('bye')" },
    { code: "import os\nprint('a', flush=True)\nos._exit(3)" },
    { code: "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7" },
    { code: "import os\nprint(input(), os.environ['G'])", stdin: "hello\n", env: { G: "hi" } },
    { module: "math", function: "hypot", args: [3, 4] },
    { code: "print('x' * 5000)" },
    { code: "print('started', flush=True)\nwhile True: pass", timeout_ms: 500 },
    { code: "x = bytearray(512 * 1024 ** 2)", memory_mb: 256 },
    { code: "raise KeyError('k')", filename: "/work/job.py" },
  ];

  /** What may differ: timings, worker ids and pids, the label, and 3.11 vs 3.14 caret lines. */
  function normalized(json: Json): Json {
    const { duration_ms: _d, worker, ...rest } = json;
    const error = rest.error as { traceback: string } | undefined;
    if (error) {
      const lines = error.traceback.split("\n").filter((l) => !/^\s*[~^]+\s*$/.test(l));
      rest.error = { ...error, traceback: lines.join("\n") };
    }
    return { ...rest, worker: { profile: (worker as Json).profile } };
  }

  for (const request of requests) {
    it(`${JSON.stringify(request).slice(0, 60)}`, async () => {
      const [a, b] = await Promise.all([
        postExec(native.url, request),
        postExec(wasm.url, request),
      ]);
      expect(a.status).toBe(200);
      expect(normalized(b.json)).toEqual(normalized(a.json));
      expect((a.json.worker as Json).runtime).toBe("native");
      expect((b.json.worker as Json).runtime).toBe("pyodide");
    });
  }
});
