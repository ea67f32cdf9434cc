// Which .py files make up the project, and the module name of each.
//
// The rule (deliberately simple; `kiln check` documents it):
//   - Import roots: the project directory itself and, when it exists and is
//     not a package, its `src/` directory.
//   - A file's module name is its path from its import root, with dots for
//     slashes and no `.py`; `pkg/__init__.py` is the package `pkg`.
//   - A directory with `__init__.py` is a regular package; one without is a
//     PEP 420 namespace package.
//   - An import is a *project* import when its top-level name is a regular
//     module or package in an import root (a top-level `x.py`, a directory
//     `x/` with `__init__.py`, or an extension module `x.*.so`). Top-level
//     namespace directories (tests/, docs/, scripts/...) never claim a name:
//     any regular package of that name elsewhere on sys.path would win.
//   - Skipped: .git, node_modules, .kiln, __pycache__, every dot-directory,
//     virtual environments (a pyvenv.cfg or conda-meta inside), `build` and
//     `dist` unless they are packages, and symlinked directories.
import { existsSync, readdirSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";

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
  /**
   * Modules that exist without a .py file of their own: namespace packages
   * and extension modules (`.so`, `.pyd`), sorted.
   */
  otherModules: string[];
  /** Namespace packages (a subset of otherModules). */
  namespacePackages: string[];
  /** Top-level names of regular modules and packages: imports under them are checked. */
  topLevel: string[];
}

const ALWAYS_SKIPPED = new Set(["node_modules", "__pycache__", "site-packages"]);
const SKIPPED_UNLESS_PACKAGE = new Set(["build", "dist"]);
const EXTENSION = /^([^.]+)\..*\.(so|pyd)$|^([^.]+)\.(so|pyd)$/;

export function discoverProject(root: string): ProjectLayout {
  const srcDir = join(root, "src");
  const srcIsRoot = existsSync(srcDir) && !existsSync(join(srcDir, "__init__.py"));
  const roots = srcIsRoot ? [root, srcDir] : [root];
  const files: ProjectFile[] = [];
  const other = new Set<string>();
  const namespaces = new Set<string>();
  const topLevel = new Set<string>();

  // Returns whether the directory holds (below it) any module at all.
  const walk = (dir: string, packageParts: string[] | null): boolean => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    let holdsModules = false;
    const atRoot = packageParts === null;
    const parts = packageParts ?? [];
    for (const entry of entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
      const path = join(dir, entry.name);
      if (entry.isFile()) {
        if (entry.name.endsWith(".py")) {
          const isPackage = entry.name === "__init__.py";
          const stem = entry.name.slice(0, -3);
          let module = isPackage ? parts.join(".") : [...parts, stem].join(".");
          // An __init__.py in an import root: the root directory is the package.
          if (module === "") module = basename(dir);
          files.push({ rel: toRel(root, path), abs: path, module, isPackage });
          if (atRoot && !isPackage) topLevel.add(stem);
          holdsModules = true;
          continue;
        }
        const ext = EXTENSION.exec(entry.name);
        if (ext) {
          const stem = (ext[1] ?? ext[3]) as string;
          other.add([...parts, stem].join("."));
          if (atRoot) topLevel.add(stem);
          holdsModules = true;
        }
        continue;
      }
      if (!entry.isDirectory()) continue; // symlinks, sockets...
      if (skipDirectory(entry.name, path)) continue;
      if (atRoot && srcIsRoot && path === srcDir) continue; // walked as its own root
      const isRegular = existsSync(join(path, "__init__.py"));
      const childParts = [...parts, entry.name];
      const holds = walk(path, childParts);
      if (holds) {
        holdsModules = true;
        if (!isRegular) {
          const name = childParts.join(".");
          other.add(name);
          namespaces.add(name);
        } else if (atRoot) {
          topLevel.add(entry.name);
        }
      }
    }
    return holdsModules;
  };

  walk(root, null);
  if (srcIsRoot) walk(srcDir, null);
  files.sort((x, y) => (x.rel < y.rel ? -1 : x.rel > y.rel ? 1 : 0));
  return {
    root,
    roots,
    files,
    otherModules: [...other].sort(),
    namespacePackages: [...namespaces].sort(),
    topLevel: [...topLevel].sort(),
  };
}

function skipDirectory(name: string, path: string): boolean {
  if (name.startsWith(".") || ALWAYS_SKIPPED.has(name)) return true;
  if (existsSync(join(path, "pyvenv.cfg")) || existsSync(join(path, "conda-meta"))) return true;
  if (SKIPPED_UNLESS_PACKAGE.has(name) && !existsSync(join(path, "__init__.py"))) return true;
  return false;
}

function toRel(root: string, path: string): string {
  const rel = relative(root, path);
  return sep === "/" ? rel : rel.split(sep).join("/");
}
