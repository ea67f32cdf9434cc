// Which modules a workspace directory holds, named as `python` would import
// them with DIR on sys.path: pkg/__init__.py is the package `pkg`,
// pkg/mod.py is `pkg.mod`, and a directory of modules without __init__.py
// is a namespace package (PEP 420). Hidden directories, __pycache__ and
// names that are no identifiers (site-packages, my-dir) are skipped, as
// importlib could never reach them.
import { readdirSync } from "node:fs";
import { join } from "node:path";

export interface WorkspaceFile {
  /** Dotted module name. */
  name: string;
  isPackage: boolean;
  /** Relative path with forward slashes; null for a namespace package. */
  path: string | null;
  /** Absolute path on disk (null for a namespace package). */
  abs: string | null;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function scanWorkspace(root: string): WorkspaceFile[] {
  const found: WorkspaceFile[] = [];
  const visit = (dir: string, parts: string[]): boolean => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    let any = false;
    const hasInit = entries.some((e) => e.isFile() && e.name === "__init__.py");
    for (const entry of entries) {
      if (entry.isDirectory()) {
        if (!IDENTIFIER.test(entry.name)) continue;
        if (visit(join(dir, entry.name), [...parts, entry.name])) any = true;
      } else if (entry.isFile() && entry.name.endsWith(".py")) {
        const stem = entry.name.slice(0, -3);
        if (!IDENTIFIER.test(stem)) continue;
        const rel = [...parts, entry.name].join("/");
        const abs = join(dir, entry.name);
        if (stem === "__init__") {
          if (parts.length) found.push({ name: parts.join("."), isPackage: true, path: rel, abs });
        } else {
          found.push({ name: [...parts, stem].join("."), isPackage: false, path: rel, abs });
        }
        any = true;
      }
    }
    if (any && parts.length && !hasInit) {
      found.push({ name: parts.join("."), isPackage: true, path: null, abs: null });
    }
    return any;
  };
  visit(root, []);
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
