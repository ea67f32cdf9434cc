// `kiln watch`'s file watcher: chokidar over pytest's rootdir, ignoring what
// discovery's walk skips (walk.ts: pytest's default norecursedirs, dot
// directories such as .git, .kiln and .pytest_cache, __pycache__, virtual
// environments). Dot files are ignored too: they are tools' state
// (.coverage, an editor's .x.py.swp), and a change to one would run every
// test (not a Python file) after every run that writes it.
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
  const watcher = watch(root, {
    ignoreInitial: true,
    ignored: (path, stats) => ignoredPath(root, path, stats?.isDirectory() ?? false),
  });
  watcher.on("all", (event, path) => {
    // A new directory says nothing yet; the files in it are reported one by one.
    if (event === "addDir") return;
    changed(relative(cwd, path) || ".");
  });
  watcher.on("error", failed);
  const ready = new Promise<void>((done) => watcher.once("ready", () => done()));
  return { ready, close: () => watcher.close() };
}
