// The layout of `<rootdir>/.kiln/`, Kiln's per-project state, in one place.
// Every path under it is built here and nowhere else:
//
//   .kiln/.gitignore          "*": Kiln's state never shows in `git status`
//   .kiln/durations.json      per-test durations, for longest-first ordering
//   .kiln/registry.sqlite     the compiled-module store (SQLite, WAL)
//   .kiln/files.json          the project's one hash cache (discovery/file-index.ts)
//   .kiln/check-cache.json    what `kiln check` learned per file
//   .kiln/runs/<run-id>/      run records; runs/latest names the newest
//   .kiln/imports.json        what each test file really imported (daemon/imports-store.ts)
//
// <rootdir> is pytest's rootdir (config/rootdir.ts), or the working directory
// for a run that ended before pytest named one.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export function kilnDir(rootdir: string): string {
  return join(rootdir, ".kiln");
}

export function durationsPath(rootdir: string): string {
  return join(kilnDir(rootdir), "durations.json");
}

export function registryPath(rootdir: string): string {
  return join(kilnDir(rootdir), "registry.sqlite");
}

/** The hash cache, given the .kiln directory itself (FileIndex.load takes that). */
export function fileIndexPath(kilnDirectory: string): string {
  return join(kilnDirectory, "files.json");
}

export function checkCachePath(rootdir: string): string {
  return join(kilnDir(rootdir), "check-cache.json");
}

export function importsPath(rootdir: string): string {
  return join(kilnDir(rootdir), "imports.json");
}

export function runsDir(rootdir: string): string {
  return join(kilnDir(rootdir), "runs");
}

/**
 * Create `<rootdir>/.kiln/` with a `.gitignore` of `*`, so Kiln's caches never
 * show up in `git status`. An existing `.gitignore` is left alone.
 */
export async function ensureKilnDir(rootdir: string): Promise<string> {
  const dir = kilnDir(rootdir);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, ".gitignore"), "*\n", { flag: "wx" });
  } catch (err) {
    if (!isErrno(err, "EEXIST")) throw err;
  }
  return dir;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
