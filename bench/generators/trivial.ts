// The "trivial" suite: one-line tests, so the figure is pure per-test overhead.
import { type ProjectFiles, pyproject } from "./files.js";

export interface TrivialSize {
  files: number;
  testsPerFile: number;
}

export function trivialProject(size: TrivialSize): ProjectFiles {
  const files: ProjectFiles = new Map([["pyproject.toml", pyproject()]]);
  for (let f = 0; f < size.files; f++) {
    const lines: string[] = [];
    for (let t = 0; t < size.testsPerFile; t++) {
      lines.push(`def test_${t}(): assert ${t} + ${f} == ${t + f}`);
    }
    files.set(`tests/test_trivial_${f}.py`, `${lines.join("\n")}\n`);
  }
  return files;
}
