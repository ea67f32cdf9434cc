// One Pyodide instance in a worker thread (issue 14). Two modes:
// - "snapshot": boot Pyodide cold, load Kiln's exec harness into its
//   in-memory file system, import it, and post makeMemorySnapshot()'s bytes.
// - "instance": boot from that snapshot, say ready, run one request, post
//   its answer and end (a request never gets an instance that ran code).
//
// What the code inside may reach is cut down before it runs: no fetch,
// XMLHttpRequest or WebSocket in this thread, no `js` globals but an empty
// object, no way back to the Pyodide API (pyodide_js), no NODEFS mounts and
// no package loading (loadPackage would fall back to a CDN). The Wasm heap
// is capped by refusing WebAssembly.Memory.grow past the request's
// memory_mb: Emscripten's emscripten_resize_heap catches the refusal and
// malloc returns NULL, which CPython turns into MemoryError.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

export interface ThreadData {
  mode: "snapshot" | "instance";
  /** instance mode: the snapshot file. */
  snapshotPath?: string;
  /** The exec harness sources (file name -> source), snapshot mode. */
  harness?: Record<string, string>;
  /** Int32Array over a SharedArrayBuffer: 2 = SIGINT (Pyodide's interrupt buffer). */
  interrupt?: SharedArrayBuffer;
}

export type ThreadMessage =
  | { type: "snapshot"; bytes: Uint8Array }
  | { type: "ready"; bootMs: number }
  | { type: "out"; stream: "stdout" | "stderr"; data: Uint8Array }
  | { type: "done"; done: string }
  | { type: "failed"; message: string };

export interface RunMessage {
  type: "run";
  /** exec:run as JSON. */
  request: string;
  body: Uint8Array;
  memoryBytes: number;
}

const HARNESS_DIR = "/kiln";
const ENV = { HOME: "/home/pyodide", LANG: "C.UTF-8" };

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
    const py = await loadPyodide({ _makeSnapshot: true, env: ENV, jsglobals: {} });
    py.FS.mkdirTree(`${HARNESS_DIR}/kiln_harness`);
    py.FS.writeFile(`${HARNESS_DIR}/kiln_harness/__init__.py`, "");
    for (const [name, source] of Object.entries(data.harness ?? {})) {
      py.FS.writeFile(`${HARNESS_DIR}/kiln_harness/${name}`, source);
    }
    py.runPython(
      `import sys\nsys.path.insert(0, ${JSON.stringify(HARNESS_DIR)})\nimport kiln_harness.exec_wasm`,
    );
    const bytes = py.makeMemorySnapshot();
    port?.postMessage({ type: "snapshot", bytes } satisfies ThreadMessage, [
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
      answer = { type: "failed", message: error instanceof Error ? error.message : String(error) };
    }
    port?.postMessage(answer);
    process.exit(0);
  });
  port?.postMessage({ type: "ready", bootMs: performance.now() - started } satisfies ThreadMessage);
}

main().catch((error: unknown) => {
  port?.postMessage({
    type: "failed",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies ThreadMessage);
  process.exit(1);
});
