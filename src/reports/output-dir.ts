// Checking a report directory before anything is run or written. Node 20's
// fs.mkdirSync(path, { recursive: true }) spins forever at 100% CPU for a path
// under /proc (issue 9), so a directory given on the command line is validated
// here first: its nearest existing ancestor must be a writable directory on a
// real filesystem.
import { accessSync, constants, realpathSync, statfsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

// statfs(2) f_type values of kernel pseudo filesystems (linux/magic.h), where
// no report can be written and mkdir misbehaves.
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x73636673, "securityfs"],
]);
const PSEUDO_ROOTS = ["/proc", "/sys"];

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Returns why `dir` (relative to `cwd`) cannot hold reports, or undefined when
 * it can: it is, or can be created under, a writable directory.
 */
export function reportDirProblem(dir: string, cwd: string): string | undefined {
  const target = resolve(cwd, dir);
  let existing = target;
  for (;;) {
    try {
      const stat = statSync(existing);
      if (!stat.isDirectory()) {
        return existing === target
          ? `${dir} is not a directory`
          : `${dir} cannot be created: ${existing} is not a directory`;
      }
      break;
    } catch (error) {
      if (!isMissing(error)) return `${dir} cannot be used: ${String(error)}`;
      const parent = dirname(existing);
      if (parent === existing) return `${dir} cannot be created: no existing parent`;
      existing = parent;
    }
  }
  let real: string;
  try {
    real = realpathSync(existing);
  } catch (error) {
    return `${dir} cannot be used: ${String(error)}`;
  }
  const root = PSEUDO_ROOTS.find((r) => real === r || real.startsWith(`${r}/`));
  let fsName = root?.slice(1);
  if (fsName === undefined) {
    try {
      fsName = PSEUDO_FILESYSTEMS.get(statfsSync(real).type);
    } catch (error) {
      return `${dir} cannot be used: ${String(error)}`;
    }
  }
  if (fsName !== undefined) {
    return `${dir} is on the ${fsName} pseudo filesystem (${real}), where no report can be written`;
  }
  try {
    // root passes W_OK on any directory of a writable mount, hence the checks above.
    accessSync(real, constants.W_OK | constants.X_OK);
  } catch {
    return `${dir} cannot be created or written: ${real} is not writable`;
  }
  return undefined;
}
