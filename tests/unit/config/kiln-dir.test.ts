// The .kiln/ layout: every path in one module, and the directory's .gitignore.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureKilnDir } from "../../../src/config/kiln-dir.js";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "kiln-dir-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("ensureKilnDir", () => {
  it("keeps an existing .gitignore", async () => {
    await mkdir(join(root, ".kiln"));
    await writeFile(join(root, ".kiln", ".gitignore"), "custom\n");
    await ensureKilnDir(root);
    expect(await readFile(join(root, ".kiln", ".gitignore"), "utf8")).toBe("custom\n");
  });

  it("adds a .gitignore to an existing .kiln/ that lacks one", async () => {
    await mkdir(join(root, ".kiln"));
    expect(await ensureKilnDir(root)).toBe(join(root, ".kiln"));
    expect(await readFile(join(root, ".kiln", ".gitignore"), "utf8")).toBe("*\n");
  });

  it("creates a missing rootdir, too", async () => {
    const nested = join(root, "a", "b");
    await ensureKilnDir(nested);
    expect(await readFile(join(nested, ".kiln", ".gitignore"), "utf8")).toBe("*\n");
  });
});
