// Module names: the one naming rule of the project, used by the module
// registry (`kiln test`'s records) and `kiln check` alike (deliberately
// simple; `kiln check` documents it in the README):
//   - Import roots: the project directory itself and, when it exists and is
//     not a package, its `src/` directory (the "src layout").
//   - A file's module name is its path from its import root, with dots for
//     slashes and no `.py`; `pkg/__init__.py` is the package `pkg`, and an
//     `__init__.py` in an import root names the root directory.
//   - A directory with `__init__.py` is a regular package; one without is a
//     PEP 420 namespace package.
// pytest's default `prepend` import mode names a test module in a directory
// without `__init__.py` by its basename instead (it puts that directory on
// sys.path): the registry's records then name it differently from pytest's
// modules.jsonl, which is harmless, since the registry's pack is keyed by
// path, never by name.
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";

export interface ModuleNaming {
  name: string;
  isPackage: boolean;
}

/** The project root, plus `src/` when it exists and is not a package itself. */
export function importRoots(root: string): string[] {
  const srcDir = join(root, "src");
  const srcIsRoot =
    (statSync(srcDir, { throwIfNoEntry: false })?.isDirectory() ?? false) &&
    !existsSync(join(srcDir, "__init__.py"));
  return srcIsRoot ? [root, srcDir] : [root];
}

/**
 * The module a .py file in `dir` is: `packageParts` is the directory's path
 * from its import root (empty in the root itself).
 */
export function moduleNameFor(
  dir: string,
  packageParts: readonly string[],
  fileName: string,
): ModuleNaming {
  const isPackage = fileName === "__init__.py";
  const parts = isPackage ? packageParts : [...packageParts, fileName.replace(/\.py$/, "")];
  // An __init__.py in an import root: the root directory is the package.
  const name = parts.length === 0 ? basename(dir) : parts.join(".");
  return { name, isPackage };
}

// importlib.machinery.EXTENSION_SUFFIXES: ".cpython-311-x86_64-linux-gnu.so",
// ".abi3.so", ".so" (".pyd" on Windows): one optional tag, then the suffix.
const EXTENSION = /^([^.]+)\.(?:[\w-]+\.)?(?:so|pyd)$/;

/** The module name part of an extension module's file name (`fast` for fast.abi3.so). */
export function extensionStem(fileName: string): string | undefined {
  return EXTENSION.exec(fileName)?.[1];
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
