// `kiln test`'s run record: the recorder (unless KILN_NO_EVENTS=1, which
// exists only to measure what recording costs) and the run:started event.
import { hostname } from "node:os";
import { keepRunsFromEnv, newRunId } from "../events/run-dir.js";
import { NO_EVENTS, type RunEventSink } from "../events/run-events.js";
import { RunRecorder } from "../events/run-recorder.js";
import type { DistMode } from "../scheduler/grouping.js";
import { KILN_VERSION } from "./version.js";

export interface Recording {
  events: RunEventSink;
  /** Closes the record with the run's exit code; returns the run directory. */
  finish(exitCode: number): string | undefined;
}

export function startRecording(run: {
  argv: string[];
  cwd: string;
  python: string;
  workers: number;
  dist: DistMode;
  timeout: number | null;
  env: NodeJS.ProcessEnv;
}): Recording {
  if (run.env.KILN_NO_EVENTS === "1") return { events: NO_EVENTS, finish: () => undefined };
  const at = Date.now();
  const runId = newRunId(at);
  const recorder = new RunRecorder({
    runId,
    cwd: run.cwd,
    kilnVersion: KILN_VERSION,
    keepRuns: keepRunsFromEnv(run.env),
    warn: (message) => process.stderr.write(`kiln: warning: ${message}\n`),
  });
  recorder.emit({
    event: "run:started",
    at,
    runId,
    argv: run.argv,
    cwd: run.cwd,
    kilnVersion: KILN_VERSION,
    python: run.python,
    workers: run.workers,
    dist: run.dist,
    timeout: run.timeout,
    hostname: hostname(),
    utcOffsetMinutes: -new Date(at).getTimezoneOffset(),
  });
  return { events: recorder, finish: (exitCode) => recorder.finish(exitCode) };
}
