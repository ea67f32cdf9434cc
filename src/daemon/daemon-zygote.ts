// A run's zygote forked by the daemon's level 0 instead of spawned: the
// client asks for it on the daemon's socket, the fork connects back to a
// socket in the run's scratch directory, and that connection is the run's
// fd 3 channel. The rest of the run is a cold run's (run-tests.ts).
//
// The client cannot waitpid(2) a process that is not its child: level 0
// reaps the fork and sends its wait status (daemon:exited). Signals go to
// its pid and process group as to a spawned zygote (it calls setsid).
import { createServer, type Socket } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import { DEBUG, debug } from "../zygote/debug-trace.js";
import type { ZygoteExit, ZygoteLink } from "../zygote/zygote-process.js";
import { DaemonConnection } from "./daemon-connection.js";
import { type DaemonInfo, removeStaleInfo } from "./daemon-info.js";

export type { DaemonLookup } from "./find-daemon.js";

export interface DaemonZygote {
  link: ZygoteLink;
  /** The header's line: where this run's zygote came from. */
  note: string;
}

export interface DaemonForkRequest {
  info: DaemonInfo;
  rootdir: string;
  python: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  scratchDir: string;
  /** Whose stdio the fork takes (pidfd_getfd); default: this process. */
  stdioPid?: number;
  /** The key of a held collection besides the rest of the request (schema-daemon.ts `hold`). */
  hold?: Record<string, unknown>;
  /** Work to do while level 0 forks (the registry's walk), once the request is sent. */
  meanwhile?: () => void;
}

/** How long level 0 may take to check a request and fork (milliseconds, normally). */
const ANSWER_TIMEOUT_MS = 5_000;
/** How long a fork may take to connect back before the run starts cold. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The daemon's zygote for this run, or why the run starts cold instead. */
export async function forkFromDaemon(
  request: DaemonForkRequest,
): Promise<{ ok: true; zygote: DaemonZygote } | { ok: false; reason: string }> {
  let daemon: DaemonConnection;
  try {
    daemon = await DaemonConnection.open(request.info.socket);
  } catch (error) {
    removeStaleInfo(request.rootdir, request.info);
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { ok: false, reason: `the daemon (pid ${request.info.pid}) is not running (${code})` };
  }
  const channelPath = join(request.scratchDir, "zygote.sock");
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(channelPath, () => resolve());
    });
  } catch (error) {
    daemon.close();
    return { ok: false, reason: `cannot listen on ${channelPath}: ${String(error)}` };
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.env)) if (value !== undefined) env[key] = value;
  daemon.send({
    type: "daemon:fork",
    python: request.python,
    cwd: request.cwd,
    env,
    pid: request.stdioPid ?? process.pid,
    channelPath,
    ...(request.hold === undefined ? {} : { hold: request.hold }),
  });
  const answering = daemon.next();
  request.meanwhile?.();
  // A hung daemon must not hang the run: closing the connection makes it
  // kill a fork it makes after all (daemon_server.py _drop).
  const answer = await Promise.race([
    answering,
    delay(ANSWER_TIMEOUT_MS).then(() => "late" as const),
  ]);
  if (answer === "late") {
    daemon.close();
    server.close();
    return { ok: false, reason: `the daemon did not answer in ${ANSWER_TIMEOUT_MS / 1000} s` };
  }
  if (answer?.type !== "daemon:forked") {
    daemon.close();
    server.close();
    const reason =
      answer === null
        ? "the daemon closed the connection"
        : answer.type === "daemon:refused"
          ? answer.reason
          : `this is a bug in kiln: the daemon answered ${answer.type}`;
    return { ok: false, reason };
  }
  const pid = answer.pid;
  // The fork's exit status, whenever it comes (before it connected, too).
  const status = waitStatus(daemon, pid);
  const connected = await Promise.race([
    accepted,
    status.then((exit) => `exited (${describeExit(exit)}) before connecting`),
    delay(CONNECT_TIMEOUT_MS).then(() => "did not connect in time"),
  ]);
  server.close();
  if (typeof connected === "string") {
    killGroup(pid);
    daemon.close();
    return { ok: false, reason: `the daemon's zygote (pid ${pid}) ${connected}` };
  }
  // "close" fires after every frame the zygote sent was read, as for a
  // spawned one (zygote-start.ts): its exit is both.
  const channelClosed = new Promise<void>((resolve) => connected.once("close", () => resolve()));
  const exited = Promise.all([channelClosed, status]).then(([, exit]) => {
    daemon.close();
    return exit;
  });
  const since = new Date(answer.warmSince).toTimeString().slice(0, 8);
  if (DEBUG) {
    debug(
      answer.collected === undefined
        ? `daemon: zygote ${pid} forked from level ${answer.level}; it configures and collects`
        : `daemon: zygote ${pid} forked from a held collection (${answer.collected} items)`,
    );
  }
  return {
    ok: true,
    zygote: {
      link: {
        pid,
        channel: connected,
        kill: (signal) => {
          try {
            process.kill(pid, signal);
          } catch {
            // already gone
          }
        },
        failed: new Promise(() => {}),
        exited,
      },
      note:
        `zygote from the daemon (pid ${pid}, level 0 pid ${answer.level0Pid} warm since ` +
        `${since}, ${answer.preloaded} modules preloaded` +
        (answer.level === 1 ? `; level 1: ${answer.held} project modules held` : "") +
        (answer.collected === undefined
          ? ")"
          : `; collection held: ${answer.collected} items, not configured or collected again)`),
    },
  };
}

/** The daemon:exited for `pid`; a daemon gone first leaves the status unknown. */
async function waitStatus(daemon: DaemonConnection, pid: number): Promise<ZygoteExit> {
  for (;;) {
    const message = await daemon.next();
    if (message === null) {
      // Killed (its run zygote lives on until its run ends, then exits):
      // nobody reaped the zygote for this client, so its status is unknown.
      process.stderr.write(
        `kiln: the daemon exited during the run; the zygote's (pid ${pid}) exit status is unknown\n`,
      );
      return { code: null, signal: null };
    }
    if (message.type === "daemon:exited" && message.pid === pid) {
      return { code: message.exitCode, signal: signalName(message.signal) };
    }
  }
}

function signalName(signal: number | null): NodeJS.Signals | null {
  if (signal === null) return null;
  for (const [name, number] of Object.entries(constants.signals)) {
    if (number === signal) return name as NodeJS.Signals;
  }
  // A real-time signal, which Node does not name: said as its number.
  return `SIG${signal}` as NodeJS.Signals;
}

function describeExit(exit: ZygoteExit): string {
  return exit.signal !== null ? exit.signal : `status ${exit.code ?? "unknown"}`;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
