// The run's scratch directory in the temp folder: the workers' socket, stack
// dumps, the registry pack, spilled report bodies. Removed when the run ends;
// a supervisor killed with SIGKILL cannot remove it, so each name carries its
// owner's pid and the next run removes those whose owner is gone, as pytest
// prunes its numbered basetemp dirs (tmpdir.py make_numbered_dir_with_cleanup).
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "kiln-run-";
const OWNED = /^kiln-run-(\d+)-/;

export function createScratchDir(root = tmpdir()): string {
  sweepOrphanedScratchDirs(root);
  return mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes scratch dirs of ours whose supervisor no longer runs. */
export function sweepOrphanedScratchDirs(root = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of names) {
    const owner = OWNED.exec(name)?.[1];
    if (owner === undefined || alive(Number(owner))) continue;
    const path = join(root, name);
    try {
      // Only our own user's: another user's dir in a shared /tmp is theirs.
      if (uid !== undefined && statSync(path).uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Raced with another run's sweep, or not ours to remove.
    }
  }
  return removed;
}
