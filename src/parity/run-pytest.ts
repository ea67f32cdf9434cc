// The baseline: plain `python -m pytest` with the outcome recorder plugin.

import { delimiter, join } from "node:path";
import { type RecordedRun, runRecorded } from "./process.js";
import { REPO_ROOT } from "./projects.js";

export const RECORDER_PLUGIN = "kiln_harness.outcome_recorder";

export interface PytestRunOptions {
  python: string;
  projectDir: string;
  args: readonly string[];
  outcomesFile: string;
  timeoutSeconds: number;
  env?: NodeJS.ProcessEnv;
}

export function pytestCommand(python: string, args: readonly string[]): string[] {
  return [python, "-m", "pytest", "-p", RECORDER_PLUGIN, "-p", "no:cacheprovider", ...args];
}

export function baselineEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const pythonDir = join(REPO_ROOT, "python");
  const env: NodeJS.ProcessEnv = { ...base, PYTHONDONTWRITEBYTECODE: "1" };
  env.PYTHONPATH = base.PYTHONPATH ? `${pythonDir}${delimiter}${base.PYTHONPATH}` : pythonDir;
  return env;
}

export function runPytest(options: PytestRunOptions): Promise<RecordedRun> {
  const [command, ...args] = pytestCommand(options.python, options.args) as [string, ...string[]];
  return runRecorded(
    {
      command,
      args,
      cwd: options.projectDir,
      env: baselineEnv(options.env ?? process.env),
      timeoutSeconds: options.timeoutSeconds,
    },
    options.outcomesFile,
  );
}
