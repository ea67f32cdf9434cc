// The one walk of a project, shared by the module registry (`kiln test`) and
// `kiln check`: which directories are the project's, which .py files it has,
// each file's module name (module-names.ts), and the modules that exist
// without a .py file of their own.
//
// Which directories are skipped: pytest's collection rules (the two walkers
// this replaces disagreed; pytest's rules win, since what pytest would not
// collect from is not the project's source either):
//   - its default `norecursedirs`: *.egg, .*, _darcs, build, CVS, dist,
//     node_modules, venv, {arch}, matched on the directory's name (so a
//     package named `build` is skipped too, as pytest skips it);
//   - virtual environments, as pytest >= 8's `_in_venv` detects them: a
//     `pyvenv.cfg` file, or a `conda-meta/history` file (pytest#12652);
//   - `__pycache__` (pytest's pytest_ignore_collect).
// `.kiln/` needs no rule of its own: it is a dot-directory. One difference
// from pytest: symlinked directories are not followed (pytest's visit() does;
// a link cycle would walk forever). A regular package in a skipped directory
// (`pkg/build/`) is not walked but still exists, so `kiln check` never calls
// an import of it missing.
import { type Dirent, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { extensionStem, importRoots, moduleNameFor } from "./module-names.js";

export interface ProjectFile {
  /** Relative to the project root, with forward slashes. */
  rel: string;
  abs: string;
  module: string;
  /** An `__init__.py`. */
  isPackage: boolean;
}

export interface ProjectLayout {
  root: string;
  /** Absolute import roots, the project root first. */
  roots: string[];
  /** Every .py file, sorted by rel. */
  files: ProjectFile[];
  /** Absolute paths of every directory walked, sorted. */
  dirs: string[];
  /**
   * For each extension module (foo.cpython-311-x86_64-linux-gnu.so), the
   * dir/foo.py path it shadows: importlib's FileFinder prefers extensions.
   */
  shadowed: string[];
  /**
   * Modules that exist without a .py file of their own, sorted: namespace
   * packages, extension modules, and regular packages in skipped directories
   * (`pkg/build/`: importable, though pytest does not collect from it).
   */
  otherModules: string[];
  /** Namespace packages (a subset of otherModules). */
  namespacePackages: string[];
  /**
   * Top-level names of regular modules and packages in an import root.
   * Top-level namespace directories (tests/, docs/, scripts/...) never claim
   * a name: any regular package of that name elsewhere on sys.path would win.
   */
  topLevel: string[];
}

// pytest's default `norecursedirs` (_pytest/main.py), minus ".*" and "*.egg",
// which are patterns, plus __pycache__ (pytest_ignore_collect).
const NORECURSE_NAMES = new Set([
  "_darcs",
  "build",
  "CVS",
  "dist",
  "node_modules",
  "venv",
  "{arch}",
  "__pycache__",
]);

/**
 * pytest's norecursedirs defaults and __pycache__, which decide on the name
 * alone. `kiln watch` ignores what the walk skips (daemon/watch-files.ts).
 */
export function skippedByName(name: string): boolean {
  return name.startsWith(".") || name.endsWith(".egg") || NORECURSE_NAMES.has(name);
}

/** pytest's _in_venv, from the directory's own listing (no stat unless a marker is there). */
function isEnvironment(dir: string, names: ReadonlySet<string>): boolean {
  return (
    (names.has("pyvenv.cfg") && isFile(join(dir, "pyvenv.cfg"))) ||
    (names.has("conda-meta") && isFile(join(dir, "conda-meta", "history")))
  );
}

/** Whether the walk skips this directory as a virtual environment (pytest's _in_venv). */
export function isVirtualEnvironment(dir: string): boolean {
  return isEnvironment(dir, new Set(["pyvenv.cfg", "conda-meta"]));
}

export function walkProject(root: string): ProjectLayout {
  const roots = importRoots(root);
  const files: ProjectFile[] = [];
  const dirs: string[] = [];
  const shadowed: string[] = [];
  const other = new Set<string>();
  const namespaces = new Set<string>();
  const topLevel = new Set<string>();
  const srcRoot = roots[1];
  const prefix = root.endsWith(sep) ? root : `${root}${sep}`;
  const toRel = (path: string): string => {
    const rel = path.startsWith(prefix) ? path.slice(prefix.length) : relative(root, path);
    return sep === "/" ? rel : rel.split(sep).join("/");
  };

  // Walks a directory already listed; returns whether it holds (below it)
  // any module at all.
  const walk = (dir: string, parts: string[], entries: Dirent[]): boolean => {
    dirs.push(dir);
    const atRoot = parts.length === 0;
    let holdsModules = false;
    const subdirs: string[] = [];
    for (const entry of entries) {
      const name = entry.name;
      if (entry.isDirectory()) {
        subdirs.push(name);
        continue;
      }
      const path = join(dir, name);
      if (!isFileEntry(entry, path)) continue;
      if (name.endsWith(".py")) {
        const naming = moduleNameFor(dir, parts, name);
        files.push({
          rel: toRel(path),
          abs: path,
          module: naming.name,
          isPackage: naming.isPackage,
        });
        if (atRoot && !naming.isPackage) topLevel.add(name.slice(0, -3));
        holdsModules = true;
        continue;
      }
      const stem = extensionStem(name);
      if (stem !== undefined) {
        shadowed.push(join(dir, `${stem}.py`));
        other.add([...parts, stem].join("."));
        if (atRoot) topLevel.add(stem);
        holdsModules = true;
      }
    }
    for (const name of subdirs) {
      const path = join(dir, name);
      if (path === srcRoot) continue; // walked as its own import root
      const childParts = [...parts, name];
      if (skippedByName(name)) {
        if (IDENTIFIER.test(name) && isFile(join(path, "__init__.py"))) {
          other.add(childParts.join("."));
        }
        continue;
      }
      const childEntries = list(path);
      const names = new Set(childEntries.map((entry) => entry.name));
      if (isEnvironment(path, names)) continue;
      if (!walk(path, childParts, childEntries)) continue;
      holdsModules = true;
      if (!names.has("__init__.py")) {
        const ns = childParts.join(".");
        other.add(ns);
        namespaces.add(ns);
      } else if (atRoot) {
        topLevel.add(name);
      }
    }
    return holdsModules;
  };

  for (const importRoot of roots) walk(importRoot, [], list(importRoot));
  files.sort((x, y) => cmp(x.rel, y.rel));
  return {
    root,
    roots,
    files,
    dirs: dirs.sort(),
    shadowed: shadowed.sort(),
    otherModules: [...other].sort(),
    namespacePackages: [...namespaces].sort(),
    topLevel: [...topLevel].sort(),
  };
}

// A module name Python can import (ASCII is enough to tell a directory name
// like `my-build` or `build.old` apart from a package).
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A regular file, or a symlink to one (the import system follows file links). */
function isFileEntry(entry: Dirent, path: string): boolean {
  if (entry.isFile()) return true;
  return entry.isSymbolicLink() && isFile(path);
}

function isFile(path: string): boolean {
  try {
    // No exception for the common "not there": this runs for every directory.
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false; // ENOTDIR, EACCES...
  }
}

/** A directory's entries; none when it is unreadable (the import system will say so if it matters). */
function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
