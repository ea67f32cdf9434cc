// Kiln's side: `node dist/cli/main.js test --python PY -p <recorder> ...` in
// the project directory. Kiln's zygote runs pytest in-process with
// kiln_harness importable, so the same recorder plugin writes the outcomes.

import { join } from "node:path";
import { type RecordedRun, runRecorded } from "./process.js";
import { REPO_ROOT } from "./projects.js";
import { type PytestRunOptions, RECORDER_PLUGIN } from "./run-pytest.js";

export const DEFAULT_KILN_CLI = join(REPO_ROOT, "dist", "cli", "main.js");

/** What a pytest run takes, plus the Kiln CLI to run it with. */
export interface KilnRunOptions extends PytestRunOptions {
  kilnCli: string;
}

export function kilnCommand(kilnCli: string, python: string, args: readonly string[]): string[] {
  // -p no:cacheprovider as for the baseline: the same plugin set, and no
  // .pytest_cache left in the fixture projects.
  return [
    process.execPath,
    kilnCli,
    "test",
    "--python",
    python,
    "-p",
    RECORDER_PLUGIN,
    "-p",
    "no:cacheprovider",
    ...args,
  ];
}

export function runKiln(options: KilnRunOptions): Promise<RecordedRun> {
  const [command, ...args] = kilnCommand(options.kilnCli, options.python, options.args) as [
    string,
    ...string[],
  ];
  return runRecorded(
    {
      command,
      args,
      cwd: options.projectDir,
      env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: "1" },
      timeoutSeconds: options.timeoutSeconds,
    },
    options.outcomesFile,
  );
}
