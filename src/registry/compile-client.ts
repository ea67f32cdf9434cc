// The Node side of python/kiln_harness/compile_server.py: one persistent
// Python process per run that turns batches of source files into marshalled
// code objects (no .pyc header) plus each module's imports and top-level names.
//
// Frames (kiln protocol, src/protocol/frame-codec.ts) go to the child's stdin
// and come back on its stdout; the server keeps its stdout for frames only.
//   server -> client first: {"type":"hello","v":1,"magic","cacheTag","pytest","python"}
//   client -> server:       {"type":"compile:batch","id","files":[{path,module,isPackage,rewrite}],"optimize"}
//                           {"type":"shutdown"}
//   server -> client:       {"type":"compile:result","id","results":[...]} + body (code, concatenated)
//                           {"type":"compile:error","id","message"} for a malformed request
import { type ChildProcess, spawn } from "node:child_process";
import { HARNESS_DIR, harnessArgs } from "../config/harness.js";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameHeader,
  PROTOCOL_VERSION,
} from "../protocol/frame-codec.js";
import type { CompiledModule, CompileFailure, ImportRef, PublicName } from "./types.js";

/** python/ in the source tree and in the package (this file is src/registry or dist/registry). */
// Re-exported: callers of the compile server name the harness from here.
export { HARNESS_DIR };

export interface CompileRequestFile {
  /** Absolute path: it becomes the code object's co_filename. */
  path: string;
  /** Dotted module name (relative imports are resolved against it). */
  module: string;
  /** The file is a package's __init__.py. */
  isPackage: boolean;
  /** Apply pytest's assertion rewriting (test modules and conftests). */
  rewrite: boolean;
}

/** An import as the compile server reports it. */
export interface AnalyzedImportRef extends ImportRef {
  /** In the body of a `try` with `except` handlers: the author expects it may fail. */
  guarded: boolean;
}

/** CompiledModule plus what `kiln check` needs beyond the registry's vocabulary. */
export interface CompiledModuleInfo extends CompiledModule {
  imports: AnalyzedImportRef[];
  /** Every top-level name the module binds, private ones included (sorted). */
  allNames: string[];
  /** The module edits its own namespace (globals(), exec, sys.modules): names unknowable. */
  namesOpaque: boolean;
}

export type CompileFailed = CompileFailure & { failed: true };
export type CompileOutcome = CompiledModuleInfo | CompileFailed;

export function isCompileFailure(outcome: CompileOutcome): outcome is CompileFailed {
  return "failed" in outcome && outcome.failed === true;
}

/** What the server said in its hello frame. */
export interface CompileServerInfo {
  /** importlib.util.MAGIC_NUMBER as hex. */
  magic: string;
  cacheTag: string;
  /** pytest's version, or null when pytest is not installed. */
  pytest: string | null;
  python: string;
}

/** The server could not start, died, or answered with something unusable. */
export class CompileServerError extends Error {
  override name = "CompileServerError";
}

export interface CompileServerOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Files per compile:batch frame (a compile() call is split into several). Default 256. */
  batchSize?: number;
  /** How long to wait for the hello frame. Default 30 s. */
  startTimeoutMs?: number;
}

interface Pending {
  resolve(outcomes: CompileOutcome[]): void;
  reject(error: Error): void;
}

const STDERR_TAIL = 8 * 1024;

export class CompileServer {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = "";
  private failure: CompileServerError | undefined;
  private closing = false;
  private readonly exited: Promise<void>;
  private helloWaiter: { resolve(): void; reject(error: Error): void } | undefined;
  private markExited: () => void = () => {};
  private infoValue: CompileServerInfo | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly python: string,
    private readonly batchSize: number,
  ) {
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
      child.on("close", (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        this.fail(
          new CompileServerError(
            `the compile server (${python}) ${how}${this.closing ? "" : " unexpectedly"}` +
              this.stderrSuffix(),
          ),
        );
        resolve();
      });
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      this.fail(
        new CompileServerError(`cannot run the compile server with ${python}: ${error.message}`),
      );
      // Never spawned: there will be no "close" to wait for.
      if (child.pid === undefined) this.markExited();
    });
    child.stdin?.on("error", () => {
      // EPIPE: the process died; its exit ("close") reports why.
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    child.stdout?.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  /** Spawn `python` running the compile server from `harnessDir` and wait for its hello. */
  static start(
    python: string,
    harnessDir: string = HARNESS_DIR,
    options: CompileServerOptions = {},
  ): Promise<CompileServer> {
    let child: ChildProcess;
    try {
      child = spawn(python, harnessArgs("compile-server", harnessDir), {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ["pipe", "pipe", "pipe"],
      });
    } catch (error) {
      return Promise.reject(
        new CompileServerError(`cannot run the compile server with ${python}: ${String(error)}`),
      );
    }
    const server = new CompileServer(child, python, Math.max(1, options.batchSize ?? 256));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        server.kill();
        reject(new CompileServerError(`the compile server (${python}) did not say hello in time`));
      }, options.startTimeoutMs ?? 30_000);
      server.helloWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve(server);
        },
        reject: (error) => {
          clearTimeout(timer);
          server.kill();
          reject(error);
        },
      };
    });
  }

  get info(): CompileServerInfo {
    if (!this.infoValue) throw new CompileServerError("the compile server has not started");
    return this.infoValue;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Compile `files` (results in the same order). Syntax errors, unreadable
   * files and missing pytest (for rewrite) come back as CompileFailed; the
   * promise rejects only when the server itself fails.
   */
  async compile(files: readonly CompileRequestFile[], optimize = 0): Promise<CompileOutcome[]> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new CompileServerError("the compile server is closed");
    const batches: Promise<CompileOutcome[]>[] = [];
    for (let start = 0; start < files.length; start += this.batchSize) {
      batches.push(this.sendBatch(files.slice(start, start + this.batchSize), optimize));
    }
    return (await Promise.all(batches)).flat();
  }

  /** Ask the server to exit and wait for it (killed after `timeoutMs`). Idempotent. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      if (!this.failure && this.child.stdin?.writable) {
        this.child.stdin.write(encodeFrame({ type: "shutdown" }));
        this.child.stdin.end();
      }
    }
    const timer = setTimeout(() => this.kill(), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private sendBatch(files: CompileRequestFile[], optimize: number): Promise<CompileOutcome[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: FrameHeader = {
        type: "compile:batch",
        id,
        optimize,
        files: files.map((f) => ({
          path: f.path,
          module: f.module,
          isPackage: f.isPackage,
          rewrite: f.rewrite,
        })),
      };
      this.child.stdin?.write(encodeFrame(request));
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(new CompileServerError(`the compile server sent garbage: ${String(error)}`));
      this.kill();
      return;
    }
    for (const frame of frames) {
      try {
        this.onFrame(frame);
      } catch (error) {
        this.fail(
          error instanceof CompileServerError ? error : new CompileServerError(String(error)),
        );
        this.kill();
        return;
      }
    }
  }

  private onFrame({ header, body }: Frame): void {
    if (this.helloWaiter) {
      const waiter = this.helloWaiter;
      this.helloWaiter = undefined;
      if (header.type !== "hello" || header.v !== PROTOCOL_VERSION) {
        waiter.reject(
          new CompileServerError(
            `the compile server spoke ${header.type} v${header.v} first; ` +
              `kiln expects hello v${PROTOCOL_VERSION} (is the harness from another kiln version?)`,
          ),
        );
        return;
      }
      this.infoValue = {
        magic: String(header.magic),
        cacheTag: String(header.cacheTag),
        pytest: typeof header.pytest === "string" ? header.pytest : null,
        python: String(header.python),
      };
      waiter.resolve();
      return;
    }
    const id = typeof header.id === "number" ? header.id : undefined;
    const waiter = id === undefined ? undefined : this.pending.get(id);
    if (header.type === "compile:error") {
      const message = `the compile server refused a request: ${String(header.message)}`;
      if (!waiter) throw new CompileServerError(message);
      this.pending.delete(id as number);
      waiter.reject(new CompileServerError(message));
      return;
    }
    if (header.type !== "compile:result" || !waiter) {
      throw new CompileServerError(
        `unexpected frame from the compile server: ${header.type} (id ${String(header.id)})`,
      );
    }
    this.pending.delete(id as number);
    if (!Array.isArray(header.results)) {
      throw new CompileServerError("compile:result without a results list");
    }
    waiter.resolve(header.results.map((raw: unknown) => decodeResult(raw, body)));
  }

  private fail(error: CompileServerError): void {
    if (!this.failure) this.failure = error;
    if (this.helloWaiter) {
      const waiter = this.helloWaiter;
      this.helloWaiter = undefined;
      waiter.reject(this.failure);
    }
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }

  private kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
    }
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail ? `:\n${tail}` : "";
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decodeResult(raw: unknown, body: Buffer): CompileOutcome {
  if (!isRecord(raw) || typeof raw.path !== "string") {
    throw new CompileServerError("compile:result entry without a path");
  }
  if (raw.ok !== true) {
    const error = isRecord(raw.error) ? raw.error : {};
    return {
      failed: true,
      path: typeof error.path === "string" ? error.path : raw.path,
      line: typeof error.line === "number" ? error.line : 0,
      message: typeof error.message === "string" ? error.message : "compilation failed",
    };
  }
  const offset = raw.codeOffset;
  const length = raw.codeLength;
  if (
    typeof offset !== "number" ||
    typeof length !== "number" ||
    offset < 0 ||
    length < 0 ||
    offset + length > body.length
  ) {
    throw new CompileServerError(`compile:result for ${raw.path}: code outside the frame body`);
  }
  return {
    path: raw.path,
    sourceHash: String(raw.sourceHash),
    magic: String(raw.magic),
    cacheTag: String(raw.cacheTag),
    optimize: typeof raw.optimize === "number" ? raw.optimize : 0,
    rewrittenBy: typeof raw.rewrittenBy === "string" ? raw.rewrittenBy : null,
    // A copy: a slice would pin the whole batch's body for as long as one
    // module's code lives.
    code: Buffer.from(body.subarray(offset, offset + length)),
    imports: Array.isArray(raw.imports) ? (raw.imports as AnalyzedImportRef[]) : [],
    names: Array.isArray(raw.names) ? (raw.names as PublicName[]) : [],
    allNames: Array.isArray(raw.allNames) ? (raw.allNames as string[]) : [],
    dynamicNames: raw.dynamicNames === true,
    namesOpaque: raw.namesOpaque === true,
  };
}
