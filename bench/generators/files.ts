// Writing a generated project: relative path -> content.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export type ProjectFiles = Map<string, string>;

export function writeProject(dir: string, files: ProjectFiles): void {
  for (const [path, content] of files) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/** pytest configuration that pins rootdir to the suite, not the repository around it. */
export function pyproject(extra = ""): string {
  return `[tool.pytest.ini_options]\ntestpaths = ["tests"]\n${extra}`;
}

/** A digest of the files: part of a suite's stamp, so editing a generator regenerates it. */
export function digest(files: ProjectFiles): string {
  const hash = createHash("sha256");
  for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`${path}\0${content}\0`);
  }
  return hash.digest("hex").slice(0, 16);
}
