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
//   .kiln/daemon.json         the running daemon: pid, socket, interpreter
//   .kiln/daemon.sock         its socket (or a short path elsewhere: daemonSocketPath)
//   .kiln/daemon.log          its stdout and stderr
//
// <rootdir> is pytest's rootdir (config/rootdir.ts), or the working directory
// for a run that ended before pytest named one.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

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

export function daemonInfoPath(rootdir: string): string {
  return join(kilnDir(rootdir), "daemon.json");
}

export function daemonLogPath(rootdir: string): string {
  return join(kilnDir(rootdir), "daemon.log");
}

/** sockaddr_un's sun_path holds 108 bytes, the terminating NUL included (unix(7)). */
const SUN_PATH_MAX = 107;

/**
 * The daemon's socket: `.kiln/daemon.sock`, or when that path is too long
 * for a Unix socket, a short one in $XDG_RUNTIME_DIR (else the temp folder)
 * named by a hash of the rootdir. Clients find it through daemon.json.
 */
export function daemonSocketPath(rootdir: string, env: NodeJS.ProcessEnv = process.env): string {
  const inProject = join(kilnDir(rootdir), "daemon.sock");
  if (Buffer.byteLength(inProject) <= SUN_PATH_MAX) return inProject;
  const hash = createHash("sha256").update(rootdir).digest("hex").slice(0, 16);
  const base = env.XDG_RUNTIME_DIR || tmpdir();
  return join(base, `kiln-daemon-${process.getuid?.() ?? 0}-${hash}.sock`);
}

/** The nearest `.kiln/daemon.json` at or above `dir` (a cheap guess before the rootdir is known). */
export function daemonInfoNear(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const info = daemonInfoPath(at);
    if (existsSync(info)) return info;
    if (dirname(at) === at) return undefined;
  }
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
