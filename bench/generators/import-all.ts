// An extra test file for the many-modules suite: gen_project.py's test files
// each import one module (and what it imports), which reaches only about half
// of a 1,000-module project; a smoke test importing every module, as many
// real projects have, makes collection load all of them.
import type { ProjectFiles } from "./files.js";

export function importAllTest(pkgs: number, mods: number): ProjectFiles {
  const body = `import importlib

MODULES = [f"app.pkg{p}.m{m}" for p in range(${pkgs}) for m in range(${mods})]
LOADED = [importlib.import_module(name) for name in MODULES]


def test_every_module_imports():
    assert len(LOADED) == ${pkgs * mods}
`;
  return new Map([["tests/test_import_all.py", body]]);
}
