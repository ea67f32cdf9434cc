// One recorded run through the run path of `kiln test` (zygote/run-tests.ts):
// the run record, the run, recorded durations, and afterwards what each test
// file imported, folded into .kiln/imports.json for the next selection.
// `kiln test` makes one; `kiln watch` one per rerun, in the same Node process.
import { loadDurations, saveDurations } from "../events/durations-store.js";
import type { RunEvent } from "../events/run-events.js";
import type { HelloToZygote } from "../protocol/messages.js";
import { runTests, type TestOutput, type TestRunRequest } from "../zygote/run-tests.js";
import type { StartedZygote } from "../zygote/zygote-start.js";
import { startRecording } from "./run-recording.js";
import type { TestOptions } from "./test-options.js";

export interface RecordedRunRequest {
  /** What the run record says the command line was. */
  argv: string[];
  cwd: string;
  interpreter: { path: string; how: string };
  options: TestOptions;
  pytestArgs: string[];
  select?: HelloToZygote["select"];
  /** The workers' sandbox (DESIGN.md section 4); absent: none. */
  isolation?: TestRunRequest["isolation"];
  /** The project's daemon; absent with --no-daemon. */
  daemon?: TestRunRequest["daemon"];
  daemonStdioPid?: number;
  daemonUsed?: TestRunRequest["daemonUsed"];
  zygote?: StartedZygote;
  takeSignals(listener: (signal: NodeJS.Signals) => void): () => void;
  /** Sees every run event as it is recorded (`kiln watch`'s live counts). */
  observe?: (event: RunEvent) => void;
  /**
   * Hand back the fold of the run's imports into .kiln/imports.json instead
   * of doing it (`kiln watch`: its result line need not wait for it; the
   * next selection does, and calls it first).
   */
  deferImportsFold?: boolean;
  /** Where pytest's output goes instead of the terminal Kiln inherited. */
  output?: TestOutput;
  /** `--queue`: the coordinator runs the tests on agents (queue/coordinator-run.ts). */
  engine?: TestRunRequest["engine"];
  workersNote?: string;
}

export async function recordedRun(
  request: RecordedRunRequest,
): Promise<{ exitCode: number; runDir: string | undefined; foldImports?: () => void }> {
  const { options, interpreter } = request;
  const recording = startRecording({
    argv: request.argv,
    cwd: request.cwd,
    python: interpreter.path,
    workers: options.workers,
    dist: options.dist,
    timeout: options.timeout,
    env: process.env,
  });
  const observe = request.observe;
  const events =
    observe === undefined
      ? recording.events
      : {
          emit: (event: RunEvent) => {
            recording.events.emit(event);
            observe(event);
          },
        };
  const exitCode = await runTests({
    python: interpreter.path,
    interpreterNote: `interpreter ${interpreter.path} (${interpreter.how})`,
    cwd: request.cwd,
    pytestArgs: request.pytestArgs,
    workers: options.workers,
    workersAuto: options.workersAuto,
    dist: options.dist,
    timeout: options.timeout,
    env: process.env,
    events,
    registry: options.registry,
    ...(request.zygote === undefined ? {} : { zygote: request.zygote }),
    ...(request.select === undefined ? {} : { select: request.select }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
    ...(request.isolation === undefined ? {} : { isolation: request.isolation }),
    ...(request.daemon === undefined ? {} : { daemon: request.daemon }),
    ...(request.daemonStdioPid === undefined ? {} : { daemonStdioPid: request.daemonStdioPid }),
    ...(request.daemonUsed === undefined ? {} : { daemonUsed: request.daemonUsed }),
    ...(request.output === undefined ? {} : { output: request.output }),
    ...(request.engine === undefined ? {} : { engine: request.engine }),
    ...(request.workersNote === undefined ? {} : { workersNote: request.workersNote }),
    takeSignals: request.takeSignals,
    loadDurations: async (rootdir) => {
      const loaded = await loadDurations(rootdir);
      if (loaded.warning) process.stderr.write(`kiln: warning: ${loaded.warning}\n`);
      return loaded.durations;
    },
    saveDurations: async (rootdir, durations) => {
      try {
        await saveDurations(rootdir, durations);
      } catch (error) {
        process.stderr.write(`kiln: warning: could not record test durations: ${String(error)}\n`);
      }
    },
  });
  const runDir = recording.finish(exitCode);
  if (runDir === undefined) return { exitCode, runDir };
  // What each test file imported, for the next --changed (after the run:
  // a plain run's start-up loads none of it).
  const { foldRunImportsOf } = await import("../daemon/imports-store.js");
  const foldImports = () => {
    const warning = foldRunImportsOf(runDir);
    if (warning) process.stderr.write(`kiln: warning: ${warning}\n`);
  };
  if (request.deferImportsFold) return { exitCode, runDir, foldImports };
  foldImports();
  return { exitCode, runDir };
}
