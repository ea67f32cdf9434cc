// One Pyodide instance in a worker thread (issue 14). Two modes:
// - "snapshot": boot Pyodide cold, load Kiln's exec harness into its
//   in-memory file system, import it, and post makeMemorySnapshot()'s bytes.
// - "instance": boot from that snapshot, say ready, run one request, post
//   its answer and end (a request never gets an instance that ran code).
//
// What the code inside may reach is cut down before it runs: no fetch,
// XMLHttpRequest or WebSocket in this thread, no `js` globals but an empty
// object, no way back to the Pyodide API (pyodide_js), no NODEFS mounts and
// no package loading (loadPackage would fall back to a CDN). Packages come
// from the wheels the user gave (wheels.ts), loaded into the snapshot from
// their local files; fetch is gone from the snapshot thread too, so a
// fallback to the CDN fails loudly instead of being logged and ignored. The
// snapshot keeps the Wasm heap (imported modules) but not Emscripten's
// in-memory file system, which lives in JS: the installed files go in a
// sidecar (installed-files.ts) each instance writes back before it runs.
// The Wasm heap is capped by refusing WebAssembly.Memory.grow past the request's
// memory_mb: Emscripten's emscripten_resize_heap catches the refusal and
// malloc returns NULL, which CPython turns into MemoryError.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type { PyProxy } from "pyodide/ffi";
import { filesPathOf, type InstalledFile, unpackFiles } from "./installed-files.js";

export interface ThreadData {
  mode: "snapshot" | "instance";
  /** instance mode: the snapshot file. */
  snapshotPath?: string;
  /** The exec harness sources (file name -> source), snapshot mode. */
  harness?: Record<string, string>;
  /** Int32Array over a SharedArrayBuffer: 2 = SIGINT (Pyodide's interrupt buffer). */
  interrupt?: SharedArrayBuffer;
  /** snapshot mode: local wheel files (checked by wheels.ts) to install, then modules to import. */
  wheels?: { path: string; name: string; version: string }[];
  preload?: string[];
}

export type ThreadMessage =
  | { type: "snapshot"; bytes: Uint8Array; files: InstalledFile[] }
  | { type: "ready"; bootMs: number }
  | { type: "out"; stream: "stdout" | "stderr"; data: Uint8Array }
  | { type: "done"; done: string }
  | { type: "failed"; message: string }
  /** A package the user asked for is not there: their error, said plainly. */
  | { type: "refused"; message: string };

export interface RunMessage {
  type: "run";
  /** exec:run as JSON. */
  request: string;
  body: Uint8Array;
  memoryBytes: number;
}

const HARNESS_DIR = "/kiln";
const ENV = { HOME: "/home/pyodide", LANG: "C.UTF-8" };

class PackageRefusal extends Error {}

const port = parentPort;
if (!port)
  throw new Error("this is a bug in kiln: instance-thread.ts runs only as a worker thread");
const data = workerData as ThreadData;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
// tsconfig has no DOM lib, which is where TypeScript declares WebAssembly.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } })
  .WebAssembly;
let memoryCap = Number.POSITIVE_INFINITY;
const realGrow = Memory.prototype.grow;
Memory.prototype.grow = function grow(this: WasmMemory, pages: number) {
  if (this.buffer.byteLength + pages * 65536 > memoryCap) {
    throw new RangeError("kiln: the request's memory_mb is reached");
  }
  return realGrow.call(this, pages);
};

interface EmscriptenParts {
  SOCKFS: { websocket_sock_ops: Record<string, unknown> };
  FS: { ErrnoError: new (errno: number) => Error; filesystems: Record<string, unknown> };
  ERRNO_CODES?: Record<string, number>;
}

/**
 * The code's Python reaches JS (the FFI, and ctypes reaches every
 * Emscripten import), so the JS side is cut down before it runs:
 * - no network: Emscripten's SOCKFS dials out through the `ws` package in
 *   Node (a socket.connect() to any host:port would go out as a WebSocket);
 *   its peer and listen operations now fail with ENETUNREACH, and fetch,
 *   XMLHttpRequest and WebSocket are gone from this thread;
 * - no host file system: NODEFS is removed, so nothing can mount one;
 * - no new JS code: eval and the Function constructors (reachable from any
 *   JS function's .constructor) throw, so the code cannot write JS that
 *   imports node:fs or node:child_process;
 * - no way back to the Pyodide API (pyodide_js: mountNodeFS, loadPackage,
 *   which falls back to a CDN).
 */
function cutOffTheOutside(module: EmscriptenParts, unregister: (name: string) => void): void {
  const { FS } = module;
  const unreachable = module.ERRNO_CODES?.ENETUNREACH ?? 40;
  const refuse = () => {
    throw new FS.ErrnoError(unreachable);
  };
  const ops = module.SOCKFS.websocket_sock_ops;
  for (const name of ["createPeer", "connect", "listen", "sendmsg"]) ops[name] = refuse;
  delete FS.filesystems.NODEFS;
  unregister("pyodide_js");
  const global = globalThis as Record<string, unknown>;
  for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "Request", "eval"]) {
    delete global[name];
  }
  const blocked = () => {
    throw new EvalError("kiln: no JS code generation in a Pyodide instance");
  };
  const kinds = [() => {}, async () => {}, function* () {}, async function* () {}].map(
    (f) => Object.getPrototypeOf(f) as object,
  );
  for (const proto of kinds) {
    Object.defineProperty(proto, "constructor", {
      value: blocked,
      writable: false,
      configurable: false,
    });
  }
}

async function main(): Promise<void> {
  const { loadPyodide } = await import("pyodide");
  if (data.mode === "snapshot") {
    const attempted: string[] = [];
    const offline = (url: unknown) => {
      attempted.push(String(url));
      return Promise.reject(new TypeError("kiln: no network while building the snapshot"));
    };
    (globalThis as Record<string, unknown>).fetch = offline;
    const py = await loadPyodide({ _makeSnapshot: true, env: ENV, jsglobals: {} });
    py.FS.mkdirTree(`${HARNESS_DIR}/kiln_harness`);
    py.FS.writeFile(`${HARNESS_DIR}/kiln_harness/__init__.py`, "");
    for (const [name, source] of Object.entries(data.harness ?? {})) {
      py.FS.writeFile(`${HARNESS_DIR}/kiln_harness/${name}`, source);
    }
    py.runPython(
      `import sys\nsys.path.insert(0, ${JSON.stringify(HARNESS_DIR)})\nimport kiln_harness.exec_wasm`,
    );
    const files = await installWheels(py, data.wheels ?? [], attempted);
    importPreloads(py, data.preload ?? [], data.wheels ?? []);
    if (attempted.length) {
      throw new PackageRefusal(
        `Pyodide tried to fetch ${attempted.join(", ")}; the pyodide runtime never fetches packages (give the wheel with --wheel)`,
      );
    }
    // loadPackage records what it loaded in a JS object the snapshot must
    // find empty (pyodide's serializeHiwireState compares it with {}); the
    // instances never load packages, so the record is not needed there.
    const record = py.loadedPackages as Record<string, unknown>;
    for (const name of Object.keys(record)) delete record[name];
    const bytes = py.makeMemorySnapshot();
    port?.postMessage({ type: "snapshot", bytes, files } satisfies ThreadMessage, [
      bytes.buffer as ArrayBuffer,
    ]);
    return;
  }
  if (!data.snapshotPath || !data.interrupt) {
    throw new Error("this is a bug in kiln: an instance thread without its snapshot");
  }
  const started = performance.now();
  const py = await loadPyodide({
    _loadSnapshot: readFileSync(data.snapshotPath),
    env: ENV,
    jsglobals: {},
  });
  py.setInterruptBuffer(new Int32Array(data.interrupt));
  for (const file of unpackFiles(readFileSync(filesPathOf(data.snapshotPath)))) {
    py.FS.mkdirTree(file.path.slice(0, file.path.lastIndexOf("/")));
    py.FS.writeFile(file.path, file.data);
  }
  const post = (stream: "stdout" | "stderr") => ({
    write(buffer: Uint8Array): number {
      const copy = buffer.slice();
      port?.postMessage({ type: "out", stream, data: copy } satisfies ThreadMessage, [
        copy.buffer as ArrayBuffer,
      ]);
      return buffer.length;
    },
  });
  py.setStdout(post("stdout"));
  py.setStderr(post("stderr"));
  py.setStdin({ error: true });
  // The code must not get back to the API: mountNodeFS, loadPackage (which
  // fetches), runPythonAsync's JS. `js` is the empty jsglobals object.
  py.runPython("import sys\nsys.modules.pop('pyodide_js', None)");
  const internal = py as unknown as { _module: EmscriptenParts };
  cutOffTheOutside(internal._module, (name) => py.unregisterJsModule(name));
  const serve = py.pyimport("kiln_harness.exec_wasm").serve as (r: string, b: Uint8Array) => string;
  port?.once("message", (message: RunMessage) => {
    memoryCap = message.memoryBytes;
    let answer: ThreadMessage;
    try {
      answer = { type: "done", done: serve(message.request, message.body) };
    } catch (error) {
      // os._exit(n): Emscripten's exit throws its ExitStatus ("Exit", with
      // the status). The instance ends with that status and no answer, as a
      // native worker's process does (WorkerDied, exit_code n).
      const status = (error as { status?: unknown } | null)?.status;
      if (error instanceof Error && error.name === "Exit" && typeof status === "number") {
        process.exit(status);
      }
      answer = { type: "failed", message: error instanceof Error ? error.message : String(error) };
    }
    port?.postMessage(answer);
    process.exit(0);
  });
  port?.postMessage({ type: "ready", bootMs: performance.now() - started } satisfies ThreadMessage);
}

type Pyodide = Awaited<ReturnType<typeof import("pyodide")["loadPyodide"]>>;

/** Kiln's own Python, run in a dict of its own: nothing it names stays in __main__'s. */
function runAside(py: Pyodide, code: string): unknown {
  const scope = py.toPy({}) as PyProxy;
  try {
    return py.runPython(code, { globals: scope });
  } finally {
    scope.destroy();
  }
}

/** The files under site-packages, as Python lists them. */
function sitePackageFiles(py: Pyodide): string[] {
  return JSON.parse(
    runAside(
      py,
      `
import json, os, sysconfig
root = sysconfig.get_paths()["purelib"]
json.dumps([os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs])
`,
    ) as string,
  ) as string[];
}

/**
 * Each wheel through Pyodide's own loader (loadPackage, which unpacks it as
 * pip would and records INSTALLER), from its local file. loadPackage never
 * rejects: a file it cannot read or unpack is reported to errorCallback and
 * left out of what it returns, so both are checked, and then the installed
 * distribution itself (importlib.metadata), so nothing is reported loaded
 * that did not load.
 */
async function installWheels(
  py: Pyodide,
  wheels: NonNullable<ThreadData["wheels"]>,
  attempted: string[],
): Promise<InstalledFile[]> {
  if (!wheels.length) return [];
  const before = new Set(sitePackageFiles(py));
  for (const wheel of wheels) {
    const errors: string[] = [];
    const loaded = await py.loadPackage(wheel.path, {
      messageCallback: () => {},
      errorCallback: (message) => errors.push(message),
      checkIntegrity: false,
    });
    const file = wheel.path.slice(wheel.path.lastIndexOf("/") + 1);
    // Looked up in site-packages only: on the default path importlib.metadata
    // opens /lib/python314.zip and caches it open, and a file left open in
    // the snapshot has a dead descriptor in every instance (closing it there
    // prints "Exception ignored ... Bad file descriptor" into a request).
    const found = runAside(
      py,
      `
import importlib.metadata as m, sysconfig
d = next(iter(m.distributions(name=${JSON.stringify(wheel.name)}, path=[sysconfig.get_paths()["purelib"]])), None)
d and d.version
`,
    ) as string | undefined;
    if (attempted.length) {
      throw new PackageRefusal(
        `loading ${wheel.path}, Pyodide tried to fetch ${attempted.join(", ")}; the pyodide runtime never fetches packages`,
      );
    }
    if (errors.length || !loaded.some((p) => p.fileName === file) || !found) {
      // Each error is "The following error occurred while loading X:" then
      // the text or traceback; its last line says what went wrong.
      const why = errors
        .map((e) => e.trim().split("\n").pop()?.trim() ?? "")
        .filter((line) => line && !line.startsWith("The following error occurred"))
        .join("; ");
      throw new PackageRefusal(
        `the wheel ${wheel.path} did not load${why ? `: ${why}` : " (not a wheel Pyodide can install)"}`,
      );
    }
  }
  return sitePackageFiles(py)
    .filter((path) => !before.has(path))
    .map((path) => ({ path, data: py.FS.readFile(path) as Uint8Array }));
}

/** --preload under pyodide: imported once into the snapshot, from the standard library or the wheels. */
function importPreloads(
  py: Pyodide,
  preload: string[],
  wheels: NonNullable<ThreadData["wheels"]>,
): void {
  const importer = runAside(
    py,
    `
import importlib, traceback
def _kiln_preload(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        return f"missing:{error.name}"
    except BaseException:
        return "failed:" + traceback.format_exc(limit=-3)
    return ""
_kiln_preload
`,
  ) as ((name: string) => string) & { destroy(): void };
  try {
    for (const name of preload) {
      const outcome = importer(name);
      if (outcome.startsWith("missing:")) {
        const given = wheels.map((w) => `${w.name} ${w.version}`).join(", ") || "none";
        throw new PackageRefusal(
          `--preload ${name}: no module ${outcome.slice(8)} in the pyodide runtime (its standard library and the wheels given: ${given}). It loads packages only from --wheel files and [tool.kiln.exec] wheels; it never fetches them`,
        );
      }
      if (outcome.startsWith("failed:")) {
        throw new PackageRefusal(`--preload ${name}: importing it failed:\n${outcome.slice(7)}`);
      }
    }
  } finally {
    importer.destroy();
  }
}

main().catch((error: unknown) => {
  if (error instanceof PackageRefusal) {
    port?.postMessage({ type: "refused", message: error.message } satisfies ThreadMessage);
    process.exit(1);
  }
  port?.postMessage({
    type: "failed",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies ThreadMessage);
  process.exit(1);
});
