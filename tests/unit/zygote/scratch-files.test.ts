import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStackFile } from "../../../src/zygote/scratch-files.js";
import { tempDir } from "../../helpers/temp.js";

describe("a worker's stack dump", () => {
  it("is read when it is a file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "worker-1.stack"), "Thread 0x1 (most recent call first):\n");
    expect(readStackFile(join(dir, "worker-1.stack"))).toContain("most recent call first");
  });
  it("is empty when a link, a directory or missing stands in its place", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "secret"), "SECRET");
    symlinkSync(join(dir, "secret"), join(dir, "worker-1.stack"));
    mkdirSync(join(dir, "worker-2.stack"));
    expect(readStackFile(join(dir, "worker-1.stack"))).toBe("");
    expect(readStackFile(join(dir, "worker-2.stack"))).toBe("");
    expect(readStackFile(join(dir, "worker-3.stack"))).toBe("");
  });
});
