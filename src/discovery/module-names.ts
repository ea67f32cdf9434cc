// File → module name, the way `import` would name it from the nearest import
// root: climb while the directory is a package (has __init__.py). A
// directory without one is where the name starts, as with pytest's
// `prepend` import mode (rootdir-relative "basedir").
import { basename, dirname, join } from "node:path";

export interface ModuleNaming {
  name: string;
  isPackage: boolean;
}

export function moduleNameFor(path: string, isSource: (path: string) => boolean): ModuleNaming {
  const file = basename(path);
  const isPackage = file === "__init__.py";
  const parts: string[] = isPackage ? [] : [file.replace(/\.py$/, "")];
  let dir = dirname(path);
  if (isPackage) {
    parts.unshift(basename(dir));
    dir = dirname(dir);
  }
  while (isSource(join(dir, "__init__.py")) && dirname(dir) !== dir) {
    parts.unshift(basename(dir));
    dir = dirname(dir);
  }
  return { name: parts.join("."), isPackage };
}

/** pytest's default python_files (test_*.py, *_test.py) and conftest.py: rewritten. */
export function looksLikeTestFile(path: string): boolean {
  const file = basename(path);
  return (
    file === "conftest.py" ||
    (file.startsWith("test_") && file.endsWith(".py")) ||
    file.endsWith("_test.py")
  );
}
