import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bodyFileProblem, readStackFile } from "../../../src/zygote/scratch-files.js";
import { tempDir } from "../../helpers/temp.js";

describe("a report body file a worker names", () => {
  const scratch = "/tmp/kiln-run-1-abc";
  it("is accepted when it is a spill file of the run's scratch directory", () => {
    expect(bodyFileProblem(`${scratch}/body-17-3.bin`, scratch)).toBeUndefined();
  });
  it.each([
    ["outside it", "/var/tmp/secret.txt"],
    ["climbing out of it", `${scratch}/../other/body-1-1.bin`],
    ["in a subdirectory", `${scratch}/sub/body-1-1.bin`],
    ["under another name", `${scratch}/worker-1.stack`],
  ])("is refused %s", (_, path) => {
    expect(bodyFileProblem(path, scratch)).toContain("is not one of the run's");
  });
});

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
