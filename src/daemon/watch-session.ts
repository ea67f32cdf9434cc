// `kiln watch`'s I/O: the file watcher, the keys, the terminal, the timer and
// the runner meet the pure WatchMachine (watch-machine.ts) here. Each event
// goes to the machine; each effect it returns is carried out.
import { emptyCounts, type OutcomeCounts } from "../events/outcomes.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { FileWatcher } from "./watch-files.js";
import { decodeKeys } from "./watch-keys.js";
import { describePlan, type Effect, type WatchEvent, WatchMachine } from "./watch-machine.js";
import type { RunSummary, TestRunner } from "./watch-runner.js";
import { finishedLine, idleLine, LiveLine, promptLine, runningLine } from "./watch-status.js";

export interface WatchSessionOptions {
  runner: TestRunner;
  /** Starts the watcher; `changed` gets each changed path. */
  watch(changed: (path: string) => void, failed: (error: unknown) => void): FileWatcher;
  /** What is watched, for the first line. */
  root: string;
  debounceMs: number;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  takeSignals(listener: (signal: NodeJS.Signals) => void): () => void;
}

/** Runs until the user quits; resolves with the exit status. */
export function runWatchSession(options: WatchSessionOptions): Promise<number> {
  const { stdin, stdout, stderr, runner } = options;
  // Keys and the live line only on a terminal (jest and vitest do the same);
  // elsewhere (a pipe, CI) plain lines, one per run.
  const tty = stdout.isTTY === true;
  const keys = tty && stdin.isTTY === true;
  const live = tty
    ? new LiveLine(
        (text) => stdout.write(text),
        () => stdout.columns ?? 80,
      )
    : null;
  const say = (line: string) => (live ? live.line(line) : stdout.write(`${line}\n`));
  const machine = new WatchMachine();
  let debounce: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let watcher: FileWatcher | undefined;
  let releaseSignals: (() => void) | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let ended = false;

  const end = async (code: number) => {
    if (ended) return;
    ended = true;
    clearTimeout(debounce);
    clearInterval(ticker);
    live?.set(null);
    if (keys) {
      stdin.setRawMode(false);
      stdin.off("data", onData);
      stdin.pause();
    }
    releaseSignals?.();
    runner.close();
    await watcher?.close();
    finish(code);
  };

  const dispatch = (event: WatchEvent) => {
    if (ended) return;
    if (process.env.KILN_DEBUG && event.type !== "key") {
      stderr.write(`kiln: debug: watch: ${event.type} at ${performance.now().toFixed(0)} ms\n`);
    }
    for (const effect of machine.handle(event)) apply(effect);
  };

  const apply = (effect: Effect) => {
    switch (effect.type) {
      case "run":
        startRun(effect.plan);
        return;
      case "debounce":
        clearTimeout(debounce);
        debounce = setTimeout(() => dispatch({ type: "settled" }), options.debounceMs);
        return;
      case "prompt":
        live?.set(promptLine(effect.filter, effect.text));
        return;
      case "idle":
        live?.set(idleLine(machine.currentFilters));
        return;
      case "note":
        say(`kiln: watch: ${effect.text}`);
        return;
      case "stop-run":
        runner.stop(effect.hard);
        return;
      case "exit":
        void end(ExitCode.OK);
        return;
    }
  };

  const startRun = (plan: Parameters<TestRunner["run"]>[0]) => {
    const what = describePlan(plan);
    const began = performance.now();
    let counts: OutcomeCounts = emptyCounts();
    const show = () => live?.set(runningLine(what, counts, (performance.now() - began) / 1000));
    if (live) {
      show();
      ticker = setInterval(show, 100);
    } else {
      say(`kiln: watch: running (${what})`);
    }
    // pytest's bytes may split a UTF-8 character between two chunks.
    const outDecoder = new TextDecoder();
    const errDecoder = new TextDecoder();
    runner
      .run(plan, {
        progress: (now) => {
          counts = now;
          show();
        },
        stdout: (chunk) => {
          if (live) live.output(outDecoder.decode(chunk, { stream: true }));
          else stdout.write(chunk);
        },
        stderr: (chunk) => {
          if (live) {
            live.output(errDecoder.decode(chunk, { stream: true }), (t) => stderr.write(t));
          } else stderr.write(chunk);
        },
      })
      .then((summary: RunSummary) => {
        clearInterval(ticker);
        live?.set(null);
        say(summary.ran ? finishedLine(what, summary.counts, summary.seconds) : summary.note);
        dispatch({ type: "finished", failed: summary.failed });
      })
      .catch((error: unknown) => {
        clearInterval(ticker);
        live?.set(null);
        stderr.write(
          `kiln: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
        );
        void end(ExitCode.INTERNAL_ERROR);
      });
  };

  const onData = (data: string) => {
    for (const key of decodeKeys(data)) dispatch({ type: "key", key });
  };

  releaseSignals = options.takeSignals(() => dispatch({ type: "signal" }));
  watcher = options.watch(
    (path) => dispatch({ type: "changed", files: [path] }),
    (error) => say(`kiln: watch: warning: the file watcher failed: ${String(error)}`),
  );
  if (keys) {
    // However Kiln ends (an internal error included), the terminal gets its
    // line discipline back: a shell left in raw mode echoes nothing.
    process.once("exit", () => {
      if (stdin.isRaw) stdin.setRawMode(false);
    });
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  }
  void watcher.ready.then(() => {
    say(`kiln: watch: watching ${options.root}${keys ? "" : " (no terminal: no keys)"}`);
    dispatch({ type: "start" });
  });
  return done;
}
