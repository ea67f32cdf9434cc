// `kiln watch`'s file watcher: chokidar over pytest's rootdir, ignoring what
// discovery's walk skips (walk.ts: pytest's default norecursedirs, dot
// directories such as .git, .kiln and .pytest_cache, __pycache__, virtual
// environments), what git ignores (.gitignore, asked of git itself:
// `git check-ignore`), and the files Kiln's own stdout and stderr go to.
// Dot files are ignored too: they are tools' state (.coverage, an editor's
// .x.py.swp). Each of these is written by a run (a coverage file, a junit
// report, `kiln watch > log.txt`), and a change to one would run every test
// (not a Python file) after every run, for ever.
import { execFile } from "node:child_process";
import { readlinkSync } from "node:fs";
import { relative, sep } from "node:path";
import { watch } from "chokidar";
import { isVirtualEnvironment, skippedByName } from "../discovery/walk.js";

export interface FileWatcher {
  /** Resolves once the initial scan is done: changes from then on are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Whether a path under `root` is outside what the watch looks at. */
export function ignoredPath(root: string, path: string, isDirectory: boolean): boolean {
  const rel = relative(root, path);
  if (rel === "") return false;
  if (rel.startsWith("..")) return true;
  if (rel.split(sep).some((part) => skippedByName(part))) return true;
  return isDirectory && isVirtualEnvironment(path);
}

/** The files this process's stdout and stderr write to, if they are files. */
function ownOutputFiles(): Set<string> {
  const files = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("/")) files.add(target);
    } catch {
      // no /proc (not Linux), or a closed descriptor: nothing to leave out
    }
  }
  return files;
}

/**
 * Of these absolute paths, the ones git does not ignore. Not a repository,
 * or no git: all of them (when in doubt, a change counts).
 */
function notGitIgnored(root: string, paths: string[]): Promise<string[]> {
  return new Promise((done) => {
    const child = execFile(
      "git",
      ["check-ignore", "--stdin", "-z"],
      { cwd: root, encoding: "utf8" },
      (error, stdout) => {
        // Exit 1: none ignored; 128: not a repository.
        const code = (error as { code?: unknown } | null)?.code;
        if (error && code !== 1) {
          done(paths);
          return;
        }
        const ignored = new Set(stdout.split("\0").filter((p) => p !== ""));
        done(paths.filter((p) => !ignored.has(p) && !ignored.has(relative(root, p))));
      },
    );
    child.stdin?.on("error", () => {}); // git gone early: its exit status tells
    child.stdin?.end(`${paths.join("\0")}\0`);
  });
}

/**
 * Watches `root`; `changed` gets each added, changed or removed path
 * (relative to `cwd`, as `--affected-by` takes them).
 */
export function watchFiles(
  root: string,
  cwd: string,
  changed: (path: string) => void,
  failed: (error: unknown) => void,
): FileWatcher {
  const own = ownOutputFiles();
  const watcher = watch(root, {
    ignoreInitial: true,
    ignored: (path, stats) =>
      own.has(path) || ignoredPath(root, path, stats?.isDirectory() ?? false),
  });
  // Paths are gathered for one turn of the event loop and put to git at once.
  let batch: string[] = [];
  watcher.on("all", (event, path) => {
    // A new directory says nothing yet; the files in it are reported one by one.
    if (event === "addDir") return;
    batch.push(path);
    if (batch.length > 1) return;
    setImmediate(() => {
      const paths = batch;
      batch = [];
      void notGitIgnored(root, paths).then((kept) => {
        for (const path of kept) changed(relative(cwd, path) || ".");
      });
    });
  });
  watcher.on("error", failed);
  const ready = new Promise<void>((done) => watcher.once("ready", () => done()));
  return { ready, close: () => watcher.close() };
}
