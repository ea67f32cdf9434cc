// Runs before every test file (vitest setupFiles): the file gets a TMPDIR of
// its own, removed with everything tempDir() made when the file ends. Child
// processes inherit TMPDIR, so what they leave in the temp dir goes too.
import { chmodSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { removeTempDirs } from "./temp.js";

const outer = process.env.TMPDIR;
const fileTmp = realpathSync(mkdtempSync(join(tmpdir(), "kiln-file-")));
// Traversable by other users, as /tmp is (see global-setup.ts).
chmodSync(fileTmp, 0o711);
process.env.TMPDIR = fileTmp;

// Registered before the file's own hooks, so (vitest runs after-hooks as a
// stack) it runs after them: their own cleanup still sees the directory.
afterAll(() => {
  removeTempDirs();
  rmSync(fileTmp, { recursive: true, force: true });
  if (outer === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = outer;
});
