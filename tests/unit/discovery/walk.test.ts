import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { walkProject } from "../../../src/discovery/walk.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-layout-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function touch(...paths: string[]): void {
  for (const path of paths) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), "");
  }
}

function modules(): Array<[string, string, boolean]> {
  return walkProject(root).files.map((f) => [f.rel, f.module, f.isPackage]);
}

describe("walkProject", () => {
  it("names modules from the project root, with packages", () => {
    touch("app.py", "pkg/__init__.py", "pkg/core.py", "pkg/sub/__init__.py", "pkg/sub/leaf.py");
    expect(modules()).toEqual([
      ["app.py", "app", false],
      ["pkg/__init__.py", "pkg", true],
      ["pkg/core.py", "pkg.core", false],
      ["pkg/sub/__init__.py", "pkg.sub", true],
      ["pkg/sub/leaf.py", "pkg.sub.leaf", false],
    ]);
    const layout = walkProject(root);
    expect(layout.topLevel).toEqual(["app", "pkg"]);
    expect(layout.otherModules).toEqual([]);
    expect(layout.roots).toEqual([root]);
  });

  it("treats src/ as a second import root unless it is a package", () => {
    touch("src/lib/__init__.py", "src/lib/x.py", "setup.py");
    expect(modules()).toEqual([
      ["setup.py", "setup", false],
      ["src/lib/__init__.py", "lib", true],
      ["src/lib/x.py", "lib.x", false],
    ]);
    expect(walkProject(root).roots).toEqual([root, join(root, "src")]);
    expect(walkProject(root).topLevel).toEqual(["lib", "setup"]);
  });

  it("keeps a src/ package as an ordinary package", () => {
    touch("src/__init__.py", "src/x.py");
    expect(modules()).toEqual([
      ["src/__init__.py", "src", true],
      ["src/x.py", "src.x", false],
    ]);
    expect(walkProject(root).topLevel).toEqual(["src"]);
  });

  it("records namespace packages, which do not claim a top-level name", () => {
    touch("tests/test_a.py", "pkg/__init__.py", "pkg/ns/mod.py", "docs/readme.txt");
    const layout = walkProject(root);
    expect(layout.files.map((f) => f.module)).toEqual(["pkg", "pkg.ns.mod", "tests.test_a"]);
    expect(layout.namespacePackages).toEqual(["pkg.ns", "tests"]);
    expect(layout.otherModules).toEqual(["pkg.ns", "tests"]);
    expect(layout.topLevel).toEqual(["pkg"]);
  });

  it("records extension modules", () => {
    touch("fast.cpython-311-x86_64-linux-gnu.so", "pkg/__init__.py", "pkg/_speed.so");
    const layout = walkProject(root);
    expect(layout.otherModules).toEqual(["fast", "pkg._speed"]);
    expect(layout.topLevel).toEqual(["fast", "pkg"]);
  });

  // pytest's norecursedirs match a package named build as well: it is not
  // walked, but it exists, so imports of it are never reported as missing.
  it("skips vcs, caches, dot-dirs, venvs, node_modules, build/ and dist/, as pytest does", () => {
    touch(
      "ok.py",
      ".git/hook.py",
      ".kiln/x.py",
      ".tox/y.py",
      "node_modules/z.py",
      "__pycache__/w.py",
      "env/pyvenv.cfg",
      "env/lib/site.py",
      "conda/conda-meta/history",
      "conda/lib/c.py",
      "build/lib/pkg/__init__.py",
      "dist/d.py",
      "pkg/__init__.py",
      "pkg/build/__init__.py",
      "pkg/build/step.py",
    );
    expect(modules().map(([rel]) => rel)).toEqual(["ok.py", "pkg/__init__.py"]);
    expect(walkProject(root).otherModules).toEqual(["pkg.build"]);
  });

  it("does not follow symlinked directories", () => {
    touch("pkg/__init__.py", "pkg/a.py");
    symlinkSync(join(root, "pkg"), join(root, "pkg", "loop"));
    expect(modules().map(([rel]) => rel)).toEqual(["pkg/__init__.py", "pkg/a.py"]);
  });

  it("names an __init__.py in the root after the directory", () => {
    touch("__init__.py", "m.py");
    const layout = walkProject(root);
    expect(layout.files[0]).toMatchObject({ rel: "__init__.py", isPackage: true });
    expect(layout.files[0]?.module).toBe(root.split("/").pop());
  });
});
