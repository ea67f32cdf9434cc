// Walking a project for Python files, as pytest's collection would skip
// directories (its default `norecursedirs`: *.egg, .*, _darcs, build, CVS,
// dist, node_modules, venv, {arch}) plus virtualenvs (a pyvenv.cfg marks one,
// as pytest's _in_venv checks) and Kiln's own .kiln/.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface WalkResult {
  /** Absolute paths of .py files. */
  sources: string[];
  /** Absolute paths of every directory walked (the project's own directories). */
  dirs: string[];
  /**
   * For each extension module (foo.cpython-311-x86_64-linux-gnu.so), the
   * dir/foo.py path it shadows: importlib's FileFinder prefers extensions.
   */
  shadowed: string[];
}

const SKIP_NAMES = new Set([
  "_darcs",
  "build",
  "CVS",
  "dist",
  "node_modules",
  "venv",
  "{arch}",
  "__pycache__",
]);
const EXTENSION = /\.(?:[\w-]+\.)?(?:so|pyd)$/;

function skipDir(dir: string, name: string): boolean {
  if (name.startsWith(".") || name.endsWith(".egg") || SKIP_NAMES.has(name)) return true;
  return existsSync(join(dir, name, "pyvenv.cfg"));
}

export function walkProject(root: string): WalkResult {
  const result: WalkResult = { sources: [], dirs: [], shadowed: [] };
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    result.dirs.push(dir);
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable: the import system will say so if it matters
    }
    for (const entry of entries) {
      const name = entry.name;
      if (entry.isDirectory()) {
        if (!skipDir(dir, name)) stack.push(join(dir, name));
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (name.endsWith(".py")) {
          result.sources.push(join(dir, name));
        } else if (EXTENSION.test(name)) {
          result.shadowed.push(join(dir, `${name.slice(0, name.indexOf("."))}.py`));
        }
      }
    }
  }
  result.sources.sort();
  result.dirs.sort();
  return result;
}
