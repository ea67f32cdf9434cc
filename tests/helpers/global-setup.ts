// Once per `vitest run` (globalSetup): the suite's temp root and the guards
// that fail the run when tests leave something behind.
//
// - Tests never write into the committed fixture projects (a .kiln/ or
//   .pytest_cache there makes later runs start warm): new entries in
//   `git status --porcelain --ignored tests/fixtures` fail the run.
// - Tests remove what they put in the temp dir: TMPDIR points at a root made
//   here for the whole run (workers and their children inherit it), and
//   whatever is left in it at the end fails the run, then is removed.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./kiln.js";

/** `git status` lines for tests/fixtures, or undefined without git (a tarball). */
function fixtureStatus(): Set<string> | undefined {
  const r = spawnSync("git", ["status", "--porcelain", "--ignored", "--", "tests/fixtures"], {
    cwd: REPO,
    encoding: "utf8",
  });
  if (r.status !== 0) return undefined;
  return new Set(r.stdout.split("\n").filter((line) => line !== ""));
}

export default function setup(): () => void {
  const before = fixtureStatus();
  const outer = process.env.TMPDIR;
  const root = realpathSync(mkdtempSync(join(tmpdir(), "kiln-tests-")));
  // Traversable (not listable) by other users, as /tmp is: readonly-store
  // runs the CLI as `nobody` on a store inside a test's temp dir.
  chmodSync(root, 0o711);
  process.env.TMPDIR = root;

  return () => {
    if (outer === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = outer;
    const problems: string[] = [];
    const after = fixtureStatus();
    if (before && after) {
      const added = [...after].filter((line) => !before.has(line));
      if (added.length > 0) {
        problems.push(
          `tests wrote into the committed fixtures (copy the project with copyProject() from tests/helpers/temp.ts):\n  ${added.join("\n  ")}`,
        );
      }
    }
    const left = readdirSync(root);
    if (left.length > 0) {
      problems.push(
        `tests left these in the temp dir (use tempDir() from tests/helpers/temp.ts):\n  ${left.join("\n  ")}`,
      );
    }
    rmSync(root, { recursive: true, force: true });
    if (problems.length > 0) {
      // vitest 4 prints an error thrown here but still exits 0.
      process.exitCode = 1;
      throw new Error(problems.join("\n"));
    }
  };
}
