// Temp directories for tests, removed when the test file ends, and the one way
// to give a test its own copy of an example project.
//
// Every test file runs with TMPDIR pointing at a directory of its own
// (tests/helpers/file-setup.ts), so whatever the processes a test starts put
// in the temp dir goes when the file ends: pytest's tmp_path root
// (pytest-of-<user>, which pytest keeps on purpose), Kiln's scratch dir when a
// test kills Kiln with SIGKILL. The directories made here are removed by the
// same afterAll, so a test need not track them itself.
import { cpSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECTS } from "./kiln.js";

const made: string[] = [];

/** A new empty directory under the test file's TMPDIR (real path: macOS's /tmp is a link). */
export function tempDir(prefix = "kiln-test-"): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

/**
 * A copy of a fixture project (a name under tests/fixtures/projects, or a
 * path) in a new temp dir, without what earlier runs left there: Kiln writes
 * .kiln/ into the project and pytest .pytest_cache, and a run in the committed
 * fixtures would make later runs start warm.
 */
export function copyProject(nameOrDir: string): string {
  const source = nameOrDir.includes("/") ? nameOrDir : join(PROJECTS, nameOrDir);
  const name = source.split("/").filter(Boolean).pop() ?? "project";
  const dir = tempDir(`kiln-${name}-`);
  cpSync(source, dir, {
    recursive: true,
    filter: (path) => !/[\\/](\.kiln|__pycache__|\.pytest_cache)$/.test(path),
  });
  return dir;
}

/** Removes every directory tempDir made; file-setup.ts calls it after each file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
