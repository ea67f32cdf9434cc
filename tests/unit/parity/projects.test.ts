// Where the parity tool runs a project: the committed examples in a copy (a
// run writes .kiln/ into its project), anything else in place.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProject, runDirectory } from "../../../src/parity/projects.js";
import { tempDir } from "../../helpers/temp.js";

function fakeProject(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(join(dir, ".kiln"), { recursive: true });
  writeFileSync(join(dir, ".kiln", "registry.sqlite"), "warm");
  writeFileSync(join(dir, "test_a.py"), "def test_a():\n    pass\n");
  return dir;
}

describe("runDirectory", () => {
  it("copies an example project into scratch, without what earlier runs left", () => {
    const projects = tempDir("kiln-parity-projects-");
    const scratch = tempDir("kiln-parity-scratch-");
    const project = loadProject(fakeProject(projects, "basic"));
    const dir = runDirectory(project, "default", scratch, projects);
    expect(dir.startsWith(`${scratch}/`)).toBe(true);
    expect(dir.endsWith("/basic")).toBe(true);
    expect(existsSync(join(dir, "test_a.py"))).toBe(true);
    expect(existsSync(join(dir, ".kiln"))).toBe(false);
    // Each run gets its own copy.
    expect(runDirectory(project, "other", scratch, projects)).not.toBe(dir);
  });

  it("runs any other directory in place", () => {
    const projects = tempDir("kiln-parity-projects-");
    const scratch = tempDir("kiln-parity-scratch-");
    const own = loadProject(fakeProject(tempDir("kiln-parity-own-"), "mine"));
    expect(runDirectory(own, "adhoc", scratch, projects)).toBe(own.dir);
  });
});
