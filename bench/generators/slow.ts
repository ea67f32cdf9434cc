// The "slow-tests" suite: tests that sleep, so wall time is scheduling and
// parallelism. File i's tests sleep (i + 1) x stepMs: the files differ in
// length, so a scheduler that starts the longest ones first finishes sooner.
import { type ProjectFiles, pyproject } from "./files.js";

export interface SlowSize {
  files: number;
  testsPerFile: number;
  stepMs: number;
}

export function slowProject(size: SlowSize): ProjectFiles {
  const files: ProjectFiles = new Map([["pyproject.toml", pyproject()]]);
  for (let f = 0; f < size.files; f++) {
    const seconds = ((f + 1) * size.stepMs) / 1000;
    const lines = ["import time", ""];
    for (let t = 0; t < size.testsPerFile; t++) {
      lines.push(`def test_sleep_${t}():`, `    time.sleep(${seconds})`, "");
    }
    files.set(`tests/test_slow_${f}.py`, lines.join("\n"));
  }
  return files;
}

/** Total sleeping time of the suite, in seconds. */
export function slowTotalSeconds(size: SlowSize): number {
  return (size.testsPerFile * size.stepMs * (size.files * (size.files + 1))) / 2 / 1000;
}
