// The I/O edge of a pool: the exec zygote (python/kiln_harness/exec_zygote.py),
// one Python process per profile that imports the profile's preload modules
// and prepares its sandbox once, then forks a worker per request of ours.
// It talks over fd 3 with the kiln protocol (supervisorToExecZygote,
// execZygoteToSupervisor in src/protocol/schema.ts).
import { type ChildProcess, spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import { harnessArgs } from "../config/harness.js";
import { FrameChannel } from "../protocol/channel.js";
import { decodeExecZygoteMessage } from "../protocol/decode.js";
import type { ExecZygoteToSupervisor, SupervisorToExecZygote } from "../protocol/messages.js";

export type Profile = "none" | "hermetic" | "strict";
export const PROFILES: readonly Profile[] = ["none", "hermetic", "strict"];

/**
 * Strict's file limits in an exec pool, as in `kiln test --isolate strict`
 * (src/sandbox/profiles.ts STRICT_DEFAULT_LIMITS): without them the escape
 * suite's file bombs got through the API (tests/security/escape-exec.test.ts:
 * a 64 MiB file, 512 MiB of files in /tmp, 2,000 open files). Address
 * space and time are per request (memory_mb, timeout_ms), so neither
 * RLIMIT_AS nor RLIMIT_CPU is set here. fileSizeMb is larger than the test
 * profile's 1 MiB: an exec worker's output goes to sockets, not a capture
 * file, and code may write a scratch file of a few MiB. tmpMb is the pool's
 * private /tmp; a strict exec worker cannot write there, only in its own
 * temp dir, a tmpfs of workerTmpMb (exec_sandbox.private_temp), so one
 * request's files never take the space of the requests beside it.
 */
export const EXEC_STRICT_FILE_LIMITS = {
  fileSizeMb: 8,
  openFiles: 256,
  tmpMb: 256,
  workerTmpMb: 64,
} as const;

/**
 * Processes (and threads) one strict exec worker may have at once, itself
 * and its output relay thread included: counted in the worker's own user
 * namespace (RLIMIT_NPROC is per user namespace and uid since Linux 5.14),
 * under the pool's `processes`, which still bounds them all together.
 */
export const EXEC_WORKER_PROCESSES = 64;

export interface ExecZygoteOptions {
  python: string;
  profile: Profile;
  preload: string[];
  socketPath: string;
  scratchDir: string;
  /** RLIMIT_NPROC for the pool's user namespace (strict, hermetic). */
  processes?: number;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  /** Run the zygote (and so its workers) as this uid/gid. */
  user?: { uid: number; gid: number };
}

/**
 * Who a sandboxed pool runs as. Root is exempt from RLIMIT_NPROC whatever
 * the user namespace (kernel/fork.c copy_process skips the check for
 * INIT_USER, and uid 0 mapped to itself is INIT_USER), so a fork bomb would
 * be bounded by nothing: as root, sandboxed pools run as nobody (65534).
 */
export function poolUser(profile: Profile): { uid: number; gid: number } | undefined {
  if (profile === "none" || process.getuid?.() !== 0) return undefined;
  return { uid: 65534, gid: 65534 };
}

export interface ExecZygoteEvents {
  forked(workerId: number, pid: number): void;
  exited(workerId: number, pid: number, code: number | null, signal: number | null): void;
  /** The zygote itself ended (crash, kill, shutdown). */
  died(how: string): void;
}

/**
 * The environment the zygote, and so every worker's code, starts with: not
 * the server's, which may hold secrets (KILN_SERVE_TOKENS, cloud keys). Only
 * what running Python needs; a request adds its own `env`.
 */
export function workerEnvironment(from: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: from.LANG ?? "C.UTF-8",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  for (const name of ["TMPDIR", "KILN_PROTOCOL_CHECK", "PYTHONHASHSEED"]) {
    if (from[name] !== undefined) env[name] = from[name];
  }
  return env;
}

/** The profile can't be had here, or the zygote failed to start: the pool must not start. */
export class ExecZygoteError extends Error {
  override name = "ExecZygoteError";
}

type Channel = FrameChannel<ExecZygoteToSupervisor, SupervisorToExecZygote>;

export class ExecZygote {
  private stopping = false;
  readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly channel: Channel,
    exited: Promise<void>,
    readonly pid: number,
  ) {
    this.exited = exited;
  }

  static async start(options: ExecZygoteOptions, events: ExecZygoteEvents): Promise<ExecZygote> {
    const child = spawn(options.python, harnessArgs("exec-zygote"), {
      env: options.env ?? workerEnvironment(process.env),
      stdio: ["ignore", "inherit", "inherit", "pipe"],
      // Its own process group: a terminal's Ctrl-C reaches the server,
      // which then drains and stops the pools itself.
      detached: true,
      ...(options.user ?? {}),
    });
    let ready: ((pid: number) => void) | undefined;
    let refused: ((error: Error) => void) | undefined;
    const started = new Promise<number>((resolve, reject) => {
      ready = resolve;
      refused = reject;
    });
    let zygote: ExecZygote | undefined;
    const exited = new Promise<void>((resolve) => {
      child.on("close", (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        refused?.(
          new ExecZygoteError(`the exec zygote (${options.python}) ${how} before it was ready`),
        );
        if (zygote && !zygote.stopping) events.died(how);
        resolve();
      });
    });
    child.on("error", (error) =>
      refused?.(new ExecZygoteError(`cannot run ${options.python}: ${error.message}`)),
    );
    const pipe = child.stdio[3] as Duplex | null;
    if (!pipe) throw new ExecZygoteError("this is a bug in kiln: no fd 3 for the exec zygote");
    const channel: Channel = new FrameChannel(pipe, decodeExecZygoteMessage, {
      message: (message) => {
        switch (message.type) {
          case "exec:zygote-ready":
            ready?.(message.pid);
            return;
          case "exec:zygote-refused":
            refused?.(
              new ExecZygoteError(`profile ${options.profile} refused: ${message.message}`),
            );
            return;
          case "exec:forked":
            events.forked(message.workerId, message.pid);
            return;
          case "exec:exited":
            events.exited(message.workerId, message.pid, message.exitCode, message.signal);
            return;
        }
      },
      error: (error) => refused?.(new ExecZygoteError(`the exec zygote: ${error.message}`)),
      closed: () => {},
    });
    channel.send({
      type: "exec:hello",
      profile: options.profile,
      preload: options.preload,
      socketPath: options.socketPath,
      scratchDir: options.scratchDir,
      limits: {
        ...(options.profile === "strict" ? EXEC_STRICT_FILE_LIMITS : {}),
        ...(options.processes === undefined ? {} : { processes: options.processes }),
        ...(options.profile === "strict" && options.processes !== undefined
          ? { workerProcesses: Math.min(EXEC_WORKER_PROCESSES, options.processes) }
          : {}),
      },
    });
    const timeout = options.startTimeoutMs ?? 30_000;
    const timer = setTimeout(
      () => refused?.(new ExecZygoteError(`the exec zygote was not ready within ${timeout} ms`)),
      timeout,
    );
    try {
      const pid = await started;
      zygote = new ExecZygote(child, channel, exited, pid);
      return zygote;
    } catch (error) {
      child.kill("SIGKILL");
      await exited;
      throw error;
    } finally {
      clearTimeout(timer);
      ready = undefined;
      refused = undefined;
    }
  }

  fork(workerId: number, nonce: string): void {
    this.channel.send({ type: "exec:fork", workerId, nonce });
  }

  kill(workerId: number): void {
    this.channel.send({ type: "exec:kill", workerId });
  }

  /** Kill every worker, wait for the zygote (bounded), then SIGKILL it. */
  async stop(timeoutMs = 3_000): Promise<void> {
    this.stopping = true;
    this.channel.send({ type: "shutdown" });
    this.channel.close();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
