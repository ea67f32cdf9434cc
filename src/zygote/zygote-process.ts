// Spawning the zygote: the project's interpreter running kiln_harness.zygote
// with the protocol on fd 3, and the hello handshake that must come first.

import type { Duplex } from "node:stream";
import { FrameChannel } from "../protocol/channel.js";
import { decodeZygoteMessage } from "../protocol/decode.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type {
  HelloToZygote,
  PythonInfo,
  SupervisorToZygote,
  ZygoteToSupervisor,
} from "../protocol/messages.js";
import { DEBUG, traceReceived } from "./debug-trace.js";
import { type StartedZygote, startZygote, type ZygoteExit } from "./zygote-start.js";

export type { ZygoteExit } from "./zygote-start.js";

export class ZygoteStartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * A zygote's process and its fd 3 channel, however it was started: spawned
 * (zygote-start.ts) or forked by the daemon's level 0 (daemon/daemon-zygote.ts).
 */
export interface ZygoteLink {
  readonly pid: number | undefined;
  readonly channel: Duplex | null;
  kill(signal: NodeJS.Signals): void;
  /** Starting it failed (spawn's "error" event); never settles otherwise. */
  readonly failed: Promise<NodeJS.ErrnoException>;
  /** After its exit and the last frame it sent. */
  readonly exited: Promise<ZygoteExit>;
}

export interface ZygoteHandle {
  readonly pid: number | undefined;
  readonly python: PythonInfo;
  readonly pytestVersion: string;
  readonly magic: string;
  readonly cacheTag: string;
  readonly optimize: number;
  readonly exited: Promise<ZygoteExit>;
  send(message: SupervisorToZygote, body?: Uint8Array): void;
  /** Where messages go after the handshake. */
  onMessage(handler: (message: ZygoteToSupervisor) => void): void;
}

export interface ZygoteSpawnOptions {
  python: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  hello: Omit<HelloToZygote, "type">;
  /**
   * The interpreter, if already started for this python, cwd and env
   * (cli/early-zygote.ts); otherwise it is started here.
   */
  started?: StartedZygote;
  /** Pipe pytest's output here (zygote-start.ts's pipeOutput; `started` must have been started so). */
  output?: TestOutput;
  /** A zygote already started some other way (the daemon's); takes precedence. */
  link?: ZygoteLink;
}

/** Where pytest's output goes when Kiln does not hand it its own terminal. */
export interface TestOutput {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

/** The zygote started for `options`, its output piped to `options.output` if given. */
function startedWithOutput(options: ZygoteSpawnOptions): StartedZygote {
  const started =
    options.started ??
    startZygote(options.python, options.cwd, options.env, options.output !== undefined);
  if (options.output !== undefined && started.child.ok) {
    const { stdout, stderr } = started.child.process;
    if (stdout === null || stderr === null) {
      throw new Error("this is a bug in kiln: piping the output of a zygote started without pipes");
    }
    const output = options.output;
    stdout.on("data", (chunk: Buffer) => output.stdout(chunk));
    stderr.on("data", (chunk: Buffer) => output.stderr(chunk));
  }
  return started;
}

function linkOf(started: StartedZygote): ZygoteLink | { error: unknown } {
  if (!started.child.ok) return { error: started.child.error };
  const child = started.child.process;
  const pipe = child.stdio[3];
  return {
    pid: child.pid,
    channel: pipe !== null && pipe !== undefined && "write" in pipe ? (pipe as Duplex) : null,
    kill: (signal) => child.kill(signal),
    failed: started.failed,
    exited: started.exited,
  };
}

export function spawnZygote(options: ZygoteSpawnOptions): Promise<ZygoteHandle> {
  return new Promise((resolve, reject) => {
    const link = options.link ?? linkOf(startedWithOutput(options));
    if ("error" in link) {
      reject(
        new ZygoteStartError(
          `cannot start ${options.python}: ${String(link.error)}`,
          ExitCode.USAGE_ERROR,
        ),
      );
      return;
    }
    let settled = false;
    let handler: ((message: ZygoteToSupervisor) => void) | undefined;
    const early: ZygoteToSupervisor[] = [];
    const exited: Promise<ZygoteExit> = link.exited;
    const fail = (message: string, exitCode: number) => {
      if (settled) return;
      settled = true;
      link.kill("SIGKILL");
      reject(new ZygoteStartError(message, exitCode));
    };
    void link.failed.then((error) => {
      const why = error.code === "ENOENT" ? "no such file" : error.message;
      fail(`cannot start the interpreter ${options.python}: ${why}`, ExitCode.USAGE_ERROR);
    });
    const pipe = link.channel;
    if (pipe === null) {
      fail("this is a bug in kiln: no fd 3 pipe to the zygote", ExitCode.INTERNAL_ERROR);
      return;
    }
    const channel = new FrameChannel<ZygoteToSupervisor, SupervisorToZygote>(
      pipe,
      decodeZygoteMessage,
      {
        message: (message) => {
          if (DEBUG) traceReceived("zygote", message);
          if (!settled) {
            settle(message);
          } else if (handler) {
            handler(message);
          } else {
            early.push(message);
          }
        },
        error: (error) => {
          if (!settled)
            fail(`the zygote broke the protocol: ${error.message}`, ExitCode.INTERNAL_ERROR);
          else process.stderr.write(`kiln: protocol error from the zygote: ${error.message}\n`);
        },
        closed: () => {},
      },
    );
    const settle = (message: ZygoteToSupervisor) => {
      if (message.type === "hello:refused") {
        const who = message.python
          ? `${options.python} (Python ${message.python.version})`
          : options.python;
        if (message.reason === "pytest-missing") {
          fail(
            `pytest is not importable by ${who}: ${message.message}. Install it into that ` +
              `interpreter (e.g. \`${options.python} -m pip install pytest\`, or ` +
              "`apt-get install python3-pytest` for Debian's python3), or choose another " +
              "interpreter with --python PATH or KILN_PYTHON.",
            ExitCode.USAGE_ERROR,
          );
        } else if (message.reason === "isolation-unavailable") {
          // Never a silent downgrade (DESIGN.md section 4): a usage error
          // that names what is missing; `kiln doctor` lists the profiles.
          fail(
            `${message.message}. Run \`kiln doctor\` to see which profiles work here, ` +
              "or choose another with --isolate.",
            ExitCode.USAGE_ERROR,
          );
        } else {
          fail(`the zygote refused to start: ${message.message}`, ExitCode.INTERNAL_ERROR);
        }
        return;
      }
      if (message.type !== "hello") {
        fail(
          `this is a bug in kiln: the zygote sent ${message.type} before hello`,
          ExitCode.INTERNAL_ERROR,
        );
        return;
      }
      settled = true;
      resolve({
        pid: link.pid,
        python: message.python,
        pytestVersion: message.pytest,
        magic: message.magic,
        cacheTag: message.cacheTag,
        optimize: message.optimize,
        exited,
        send: (msg, body) => channel.send(msg, body),
        onMessage: (h) => {
          handler = h;
          for (const m of early.splice(0)) h(m);
        },
      });
    };
    void exited.then(({ code, signal }) => {
      if (settled) return;
      if (signal !== null) {
        // Killed from outside (the OOM killer, a signal to the group): the
        // interpreter itself may be fine.
        fail(
          `${options.python} was killed (${signal}) before the zygote started.`,
          ExitCode.INTERNAL_ERROR,
        );
        return;
      }
      // Any Python runs kiln's bootstrap and says hello, or fails with a
      // traceback and a non-zero status. Status 0 without a word is a
      // program that ignored `-c` (/bin/true); either way the chosen
      // interpreter is unusable: a usage error, as README's exit codes say.
      const what =
        code === 0
          ? `${options.python} exited with status 0 without starting kiln's zygote or saying ` +
            "why: it does not behave like a Python interpreter."
          : `${options.python} exited (status ${code}) before the zygote started; its error ` +
            "output, if it printed any, is above.";
      fail(
        `${what} Choose a Python interpreter with pytest installed: --python PATH or KILN_PYTHON.`,
        ExitCode.USAGE_ERROR,
      );
    });
    channel.send({ type: "hello", ...options.hello });
  });
}
