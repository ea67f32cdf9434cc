// `kiln watch` through the daemon. The daemon's run zygote takes its stdin,
// stdout and stderr from the client's pid (pidfd_getfd(2), run_fork.py
// take_stdio), so the run writes straight to them. The watch must see that
// output (its status line shares the terminal), so it hands the daemon the pid
// of this stand-in instead of its own: one long-lived child
// (kiln_harness/stdio_stand_in.py) whose stdout and stderr are pipes it
// copies back to the watch and whose stdin is /dev/null (the keys are the
// watch's, as with a piped cold zygote). One process for the whole watch:
// nothing is spawned per run. Its own pipes, not the sockets Node gives a
// child, because a pipe can be reopened through /proc/<pid>/fd where
// pidfd_getfd is refused (Yama's ptrace_scope 1).
//
// The run's output reaches the watch on those pipes, and the run's end on
// the daemon's socket: the two are not ordered, so the end of a run's output
// could arrive after its result line. sync() is the barrier: once the run's
// processes have exited, everything they wrote is already in the pipes; the
// stand-in writes a fresh token into both pipes after it, and when the watch
// has read the token on both, it has read all the run's output.
//
// The stand-in reads tokens on fd 3, a pipe from the watch: when the watch
// exits in any way (SIGKILL too), it reads end of file and exits.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { harnessArgs } from "../config/harness.js";
import type { TestOutput } from "../zygote/run-tests.js";

/** How long sync() waits for the token (a stand-in gone never echoes it). */
const SYNC_TIMEOUT_MS = 5_000;

interface Stream {
  held: string;
  seen: boolean;
  write(text: string): void;
}

export class StdioStandIn {
  private child: ChildProcess | undefined;
  private sink: TestOutput;
  private token: string | undefined;
  private synced: (() => void) | undefined;
  private readonly out: Stream;
  private readonly err: Stream;

  /**
   * `python`: the interpreter the stand-in runs with (the watch's);
   * `fallback`: where output goes between runs (a test's leftover process).
   */
  constructor(
    private readonly python: string,
    private readonly fallback: TestOutput,
  ) {
    this.sink = fallback;
    this.out = { held: "", seen: false, write: (text) => this.emit("stdout", text) };
    this.err = { held: "", seen: false, write: (text) => this.emit("stderr", text) };
  }

  /** The stand-in's pid for the daemon's request (started if it is not running). */
  pid(): number | undefined {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      return child.pid;
    }
    this.start();
    return this.child?.pid;
  }

  /** Where the output of the run that starts now goes (none: the fallback). */
  route(sink?: TestOutput): void {
    this.sink = sink ?? this.fallback;
  }

  /** Resolves once every byte written before this call was handed to the sink. */
  sync(): Promise<void> {
    const child = this.child;
    const control = child?.stdio[3] as Writable | null | undefined;
    if (child === undefined || control == null || control.destroyed) return Promise.resolve();
    const token = `\x1b_kiln-sync:${randomBytes(8).toString("hex")}\x1b\\`;
    this.token = token;
    this.out.seen = false;
    this.err.seen = false;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, SYNC_TIMEOUT_MS);
      timer.unref();
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.synced = () => {
        this.synced = undefined;
        this.token = undefined;
        for (const stream of [this.out, this.err]) {
          // Held back as a possible start of the token, and it was not.
          const held = stream.held;
          stream.held = "";
          if (held !== "") stream.write(held);
        }
        finish();
      };
      control.write(`${token}\n`);
    });
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  private start(): void {
    let child: ChildProcess;
    try {
      child = spawn(this.python, harnessArgs("stdio-stand-in"), {
        stdio: ["ignore", "pipe", "pipe", "pipe"],
        // Not in the watch's process group: a Ctrl-C the terminal sends to
        // that group must not end it (the watch turns Ctrl-C into a stop).
        detached: true,
      });
    } catch {
      return; // the run starts cold (no pid to give)
    }
    child.on("error", () => {});
    const listen = (readable: Readable | null, stream: Stream) => {
      readable?.on("data", (chunk: Buffer) => this.onData(stream, chunk));
      (readable as { unref?: () => void } | null)?.unref?.();
    };
    listen(child.stdout, this.out);
    listen(child.stderr, this.err);
    const control = child.stdio[3] as (Writable & { unref?: () => void }) | null;
    control?.on("error", () => {});
    control?.unref?.();
    // The watch decides when to end, not this child.
    child.unref();
    this.child = child;
  }

  private emit(which: "stdout" | "stderr", text: string): void {
    if (text === "") return;
    this.sink[which](Buffer.from(text, "latin1"));
  }

  private onData(stream: Stream, chunk: Buffer): void {
    // latin1: one character per byte, so the token (ASCII) is found, and the
    // bytes around it are passed on, exactly.
    const text = stream.held + chunk.toString("latin1");
    stream.held = "";
    const token = this.token;
    if (token === undefined || stream.seen) {
      stream.write(text);
      return;
    }
    const at = text.indexOf(token);
    if (at >= 0) {
      stream.write(text.slice(0, at));
      stream.seen = true;
      const rest = text.slice(at + token.length);
      if (this.out.seen && this.err.seen) this.synced?.();
      // What came after the token is no part of the run (routed anew).
      if (rest !== "") stream.write(rest);
      return;
    }
    // The token may be split between two chunks: keep back what could begin it.
    let keep = Math.min(token.length - 1, text.length);
    while (keep > 0 && !token.startsWith(text.slice(text.length - keep))) keep--;
    stream.write(text.slice(0, text.length - keep));
    stream.held = text.slice(text.length - keep);
  }
}
