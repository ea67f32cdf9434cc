// The Node side of python/kiln_harness/compile_server.py: one persistent
// Python process per run that turns batches of source files into marshalled
// code objects (no .pyc header) plus each module's imports and top-level names.
//
// It talks over fd 3 with the same frame channel and the same message table
// as the zygote (src/protocol/schema.ts: supervisorToCompileServer,
// compileServerToSupervisor): hello first, then compile:batch → compile:result
// (the code of every file concatenated in the body) or compile:error.
import { type ChildProcess, spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import { HARNESS_DIR, harnessArgs } from "../config/harness.js";
import { FrameChannel } from "../protocol/channel.js";
import { decodeCompileServerMessage } from "../protocol/decode.js";
import { PROTOCOL_VERSION } from "../protocol/frame-codec.js";
import type { CompileServerToSupervisor, SupervisorToCompileServer } from "../protocol/messages.js";
import type { CompiledModule, CompileFailure, ImportRef } from "./types.js";

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
  /** co_filename when it is not `path`: a workspace module's virtual path. */
  filename?: string;
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
  /** import_module(x) / __import__(x) with a name that is not a literal. */
  computedImports: boolean;
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

type CompileChannel = FrameChannel<CompileServerToSupervisor, SupervisorToCompileServer>;
type CompileResult = Extract<CompileServerToSupervisor, { type: "compile:result" }>;

export class CompileServer {
  private channel: CompileChannel | undefined;
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
    python: string,
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
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    const pipe = child.stdio[3];
    if (pipe === null || pipe === undefined || !("write" in pipe)) {
      // spawn() failed before the pipes existed; its "error" says why.
      return;
    }
    this.channel = new FrameChannel(pipe as Duplex, decodeCompileServerMessage, {
      message: (message, body) => {
        try {
          this.onMessage(message, body);
        } catch (error) {
          this.fail(
            error instanceof CompileServerError ? error : new CompileServerError(String(error)),
          );
          this.kill();
        }
      },
      error: (error) => {
        this.fail(new CompileServerError(`the compile server sent garbage: ${error.message}`));
        this.kill();
      },
      closed: () => {},
    });
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
        // fd 3: the frame channel (a socket, as the zygote's).
        stdio: ["ignore", "ignore", "pipe", "pipe"],
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

  /** Neither closed nor failed: compile() may be called (a shared server, shared-compiler.ts). */
  get usable(): boolean {
    return this.failure === undefined && !this.closing;
  }

  /** Whether the server keeps Node running (a shared one does not). */
  hold(hold: boolean): void {
    for (const stream of [this.child.stdio[2], this.child.stdio[3]]) {
      const handle = stream as { ref?: () => void; unref?: () => void } | null;
      if (hold) handle?.ref?.();
      else handle?.unref?.();
    }
    if (hold) this.child.ref();
    else this.child.unref();
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
      if (!this.failure) {
        this.channel?.send({ type: "shutdown" });
        this.channel?.close();
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
      this.channel?.send({
        type: "compile:batch",
        id,
        optimize,
        files: files.map((f) => ({
          path: f.path,
          module: f.module,
          isPackage: f.isPackage,
          rewrite: f.rewrite,
          ...(f.filename === undefined ? {} : { filename: f.filename }),
        })),
      });
    });
  }

  private onMessage(message: CompileServerToSupervisor, body: Buffer): void {
    if (this.helloWaiter) {
      const waiter = this.helloWaiter;
      this.helloWaiter = undefined;
      if (message.type !== "hello" || message.v !== PROTOCOL_VERSION) {
        waiter.reject(
          new CompileServerError(
            `the compile server spoke ${message.type} v${message.v} first; ` +
              `kiln expects hello v${PROTOCOL_VERSION} (is the harness from another kiln version?)`,
          ),
        );
        return;
      }
      const { magic, cacheTag, pytest, python } = message;
      this.infoValue = { magic, cacheTag, pytest, python };
      waiter.resolve();
      return;
    }
    if (message.type === "hello") {
      throw new CompileServerError("the compile server said hello twice");
    }
    const waiter = message.id === null ? undefined : this.pending.get(message.id);
    if (message.type === "compile:error") {
      const text = `the compile server refused a request: ${message.message}`;
      if (!waiter || message.id === null) throw new CompileServerError(text);
      this.pending.delete(message.id);
      waiter.reject(new CompileServerError(text));
      return;
    }
    if (!waiter) {
      throw new CompileServerError(
        `unexpected compile:result from the compile server (id ${message.id})`,
      );
    }
    this.pending.delete(message.id);
    waiter.resolve(message.results.map((result) => decodeResult(result, body)));
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

function decodeResult(result: CompileResult["results"][number], body: Buffer): CompileOutcome {
  if (!result.ok) return { failed: true, ...result.error };
  const { codeOffset: offset, codeLength: length } = result;
  if (offset + length > body.length) {
    throw new CompileServerError(`compile:result for ${result.path}: code outside the frame body`);
  }
  return {
    path: result.path,
    sourceHash: result.sourceHash,
    magic: result.magic,
    cacheTag: result.cacheTag,
    optimize: result.optimize,
    rewrittenBy: result.rewrittenBy,
    // A copy: a slice would pin the whole batch's body for as long as one
    // module's code lives.
    code: Buffer.from(body.subarray(offset, offset + length)),
    imports: result.imports,
    names: result.names,
    allNames: result.allNames,
    dynamicNames: result.dynamicNames,
    namesOpaque: result.namesOpaque,
    computedImports: result.computedImports,
  };
}
