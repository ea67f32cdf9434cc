// The problems `kiln check` reports for one module (pure). Every rule is
// about imports of *project* modules, where the project's own files are the
// whole truth; imports of anything else are never judged.
import type { AnalyzedImportRef } from "../registry/compile-client.js";

export interface ModuleAnalysis {
  imports: AnalyzedImportRef[];
  /** Every top-level name the module binds (private ones too). */
  allNames: string[];
  /** Defines a module-level __getattr__. */
  dynamicNames: boolean;
  /** Edits its own namespace (globals(), exec, sys.modules). */
  namesOpaque: boolean;
  /**
   * Imports a computed name (import_module(x)): the affected-test selection
   * (daemon/affected.ts) cannot follow it statically.
   */
  computedImports: boolean;
}

export interface ModuleFacts {
  module: string;
  /** Relative path, for messages. */
  rel: string;
  isPackage: boolean;
  /** Absent when the file did not compile. */
  analysis?: ModuleAnalysis;
  /** Set when the file did not compile. */
  error?: { line: number; message: string };
}

export interface ProjectIndex {
  /** Project modules with a .py file, by name (the first file wins on a clash). */
  modules: ReadonlyMap<string, ModuleFacts>;
  /** Namespace packages and extension modules. */
  otherModules: ReadonlySet<string>;
  namespacePackages: ReadonlySet<string>;
  /** Top-level regular module/package names: only imports under these are judged. */
  topLevel: ReadonlySet<string>;
}

export interface Problem {
  /** Relative path of the file with the problem. */
  rel: string;
  line: number;
  message: string;
}

// Attributes every module has without binding them itself.
const IMPLICIT = new Set([
  "__name__",
  "__doc__",
  "__file__",
  "__spec__",
  "__loader__",
  "__package__",
  "__builtins__",
  "__cached__",
  "__dict__",
  "__annotations__",
]);

export function moduleExists(index: ProjectIndex, name: string): boolean {
  return index.modules.has(name) || index.otherModules.has(name);
}

/** A module whose set of names cannot be known statically. */
function namesUnknowable(facts: ModuleFacts | undefined): boolean {
  const analysis = facts?.analysis;
  if (!analysis) return true;
  if (analysis.dynamicNames || analysis.namesOpaque) return true;
  return analysis.imports.some((ref) => ref.names?.includes("*"));
}

/** Whether `from <module> import <name>` can work, judging by project files. */
export function nameImportable(index: ProjectIndex, module: string, name: string): boolean {
  if (moduleExists(index, `${module}.${name}`)) return true;
  const facts = index.modules.get(module);
  if (!facts) return true; // an extension module or a namespace package: can't tell
  if (IMPLICIT.has(name) || (facts.isPackage && name === "__path__")) return true;
  if (namesUnknowable(facts)) return true;
  return (facts.analysis as ModuleAnalysis).allNames.includes(name);
}

export function checkModule(facts: ModuleFacts, index: ProjectIndex): Problem[] {
  if (facts.error) {
    return [{ rel: facts.rel, line: facts.error.line, message: facts.error.message }];
  }
  const problems: Problem[] = [];
  const report = (line: number, message: string) =>
    problems.push({ rel: facts.rel, line, message });
  for (const ref of facts.analysis?.imports ?? []) {
    // `try: import x / except ImportError:` expects failure; nothing to report.
    if (ref.guarded) continue;
    if (ref.module.startsWith(".")) {
      const hasPackage = facts.isPackage || facts.module.includes(".");
      report(
        ref.line,
        hasPackage
          ? "ImportError: attempted relative import beyond top-level package"
          : "ImportError: attempted relative import with no known parent package",
      );
      continue;
    }
    const parts = ref.module.split(".");
    if (!index.topLevel.has(parts[0] as string)) continue;
    const missing = firstMissing(index, parts);
    if (missing !== undefined) {
      report(ref.line, missing);
      continue;
    }
    const target = index.modules.get(ref.module);
    if (!ref.names || !target || target.error) continue;
    for (const name of ref.names) {
      if (name === "*" || nameImportable(index, ref.module, name)) continue;
      report(
        ref.line,
        `ImportError: cannot import name '${name}' from '${ref.module}' (${target.rel})`,
      );
    }
  }
  return problems;
}

/** Python's message for the first component of `parts` that is not importable, if any. */
function firstMissing(index: ProjectIndex, parts: readonly string[]): string | undefined {
  for (let i = 1; i <= parts.length; i++) {
    const name = parts.slice(0, i).join(".");
    if (moduleExists(index, name)) continue;
    if (i === 1) return `ModuleNotFoundError: No module named '${name}'`;
    const parent = parts.slice(0, i - 1).join(".");
    const parentFacts = index.modules.get(parent);
    // A name the parent binds may have been put in sys.modules by it (as
    // os.path is): leave it be.
    if (nameImportable(index, parent, parts[i - 1] as string) && !isSubmoduleOnly(index, parent)) {
      return undefined;
    }
    const notPackage =
      parentFacts && !parentFacts.isPackage ? `; '${parent}' is not a package` : "";
    return `ModuleNotFoundError: No module named '${name}'${notPackage}`;
  }
  return undefined;
}

/** nameImportable() answers "yes" for a namespace package only because it can't tell. */
function isSubmoduleOnly(index: ProjectIndex, module: string): boolean {
  return index.namespacePackages.has(module) && !index.modules.has(module);
}
