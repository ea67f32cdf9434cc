// `kiln cache stats` on a store this user cannot write (issue 9 item 10): a
// shared CI cache or a read-only mount. Tests run as root, which chmod does
// not stop, so the CLI runs as `nobody` there (setpriv) against a store
// whose file and directories are read-only.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registryPath } from "../../src/config/kiln-dir.js";
import { SqliteStore } from "../../src/registry/sqlite-store.js";
import { CLI } from "../helpers/kiln.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-ro-store-"));
});

afterEach(() => {
  chmodSync(root, 0o700);
  chmodSync(join(root, ".kiln"), 0o700);
  rmSync(root, { recursive: true, force: true });
});

function asUnprivileged(args: string[], cwd: string) {
  const isRoot = process.getuid?.() === 0;
  const command = isRoot
    ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath]
    : [process.execPath];
  const [file, ...rest] = command as [string, ...string[]];
  return spawnSync(file, [...rest, CLI, ...args], { cwd, encoding: "utf8", timeout: 30_000 });
}

describe("kiln cache stats on a read-only store", () => {
  it("reads the totals without writing", async () => {
    const store = await SqliteStore.open(root);
    const entries = new Map(
      [0, 1, 2].map((i) => [
        `k${i}`,
        { code: Buffer.alloc(1000, i), imports: [], names: [], dynamicNames: false },
      ]),
    );
    await store.putMany(entries);
    await store.close();
    chmodSync(registryPath(root), 0o444);
    chmodSync(join(root, ".kiln"), 0o555);
    chmodSync(root, 0o555);
    const result = asUnprivileged(["cache", "stats"], root);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.split("\n").slice(0, 3)).toEqual([
      `location: ${registryPath(root)}`,
      "entries: 3",
      expect.stringMatching(/^bytes: .* \(\d+\)$/),
    ]);
  });
});
