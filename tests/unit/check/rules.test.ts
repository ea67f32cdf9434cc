import { describe, expect, it } from "vitest";
import {
  checkModule,
  type ModuleAnalysis,
  type ModuleFacts,
  nameImportable,
  type ProjectIndex,
} from "../../../src/check/rules.js";
import type { AnalyzedImportRef } from "../../../src/registry/compile-client.js";

function ref(
  module: string,
  names?: string[],
  extra: Partial<AnalyzedImportRef> = {},
): AnalyzedImportRef {
  return {
    module,
    line: extra.line ?? 1,
    level: 0,
    conditional: false,
    guarded: false,
    ...(names ? { names } : {}),
    ...extra,
  };
}

function analysis(partial: Partial<ModuleAnalysis> = {}): ModuleAnalysis {
  return {
    imports: [],
    allNames: [],
    dynamicNames: false,
    namesOpaque: false,
    computedImports: false,
    ...partial,
  };
}

function facts(
  module: string,
  partial: Partial<ModuleAnalysis> | null = {},
  isPackage = false,
): ModuleFacts {
  const rel = `${module.split(".").join("/")}${isPackage ? "/__init__.py" : ".py"}`;
  return partial === null
    ? { module, rel, isPackage, error: { line: 2, message: "SyntaxError: invalid syntax" } }
    : { module, rel, isPackage, analysis: analysis(partial) };
}

function index(modules: ModuleFacts[], other: string[] = [], namespaces: string[] = []) {
  const map = new Map(modules.map((m) => [m.module, m]));
  const top = new Set(
    [...modules.map((m) => m.module), ...other]
      .filter((m) => !namespaces.includes(m.split(".")[0] as string))
      .map((m) => m.split(".")[0] as string),
  );
  const result: ProjectIndex = {
    modules: map,
    otherModules: new Set([...other, ...namespaces]),
    namespacePackages: new Set(namespaces),
    topLevel: top,
  };
  return result;
}

function messages(module: ModuleFacts, project: ProjectIndex): string[] {
  return checkModule(module, project).map((p) => `${p.rel}:${p.line}: ${p.message}`);
}

describe("checkModule", () => {
  const pkg = facts("pkg", { allNames: ["run", "_hidden"] }, true);
  const core = facts("pkg.core", { allNames: ["run"] });
  const dyn = facts("pkg.dyn", { dynamicNames: true });
  const opaque = facts("pkg.opaque", { namesOpaque: true });
  const star = facts("pkg.star", { imports: [ref("os", ["*"])] });
  const broken = facts("pkg.broken", null);

  it("reports a syntax error as the file's only problem", () => {
    expect(messages(broken, index([broken]))).toEqual([
      "pkg/broken.py:2: SyntaxError: invalid syntax",
    ]);
  });

  it("reports imports of project modules that do not exist", () => {
    const app = facts("app", {
      imports: [ref("pkg.nope", undefined, { line: 3 }), ref("pkg.core.deeper", undefined, {})],
    });
    expect(messages(app, index([app, pkg, core]))).toEqual([
      "app.py:3: ModuleNotFoundError: No module named 'pkg.nope'",
      "app.py:1: ModuleNotFoundError: No module named 'pkg.core.deeper'; 'pkg.core' is not a package",
    ]);
  });

  it("leaves imports of non-project modules alone", () => {
    const app = facts("app", { imports: [ref("os.path"), ref("requests", ["get"])] });
    expect(messages(app, index([app, pkg]))).toEqual([]);
  });

  it("reports names a project module does not define", () => {
    const app = facts("app", {
      imports: [ref("pkg", ["run", "_hidden", "absent"]), ref("pkg.core", ["run", "nope"])],
    });
    expect(messages(app, index([app, pkg, core]))).toEqual([
      "app.py:1: ImportError: cannot import name 'absent' from 'pkg' (pkg/__init__.py)",
      "app.py:1: ImportError: cannot import name 'nope' from 'pkg.core' (pkg/core.py)",
    ]);
  });

  it("accepts submodules, implicit attributes and star imports", () => {
    const app = facts("app", {
      imports: [ref("pkg", ["core", "__file__", "__path__", "*"]), ref("pkg.core", ["__name__"])],
    });
    expect(messages(app, index([app, pkg, core]))).toEqual([]);
  });

  it("does not judge names of modules whose names are unknowable", () => {
    const app = facts("app", {
      imports: [
        ref("pkg.dyn", ["x"]),
        ref("pkg.opaque", ["y"]),
        ref("pkg.star", ["z"]),
        ref("pkg.broken", ["w"]),
        ref("pkg.ext", ["v"]),
        ref("pkg.ns", ["u"]),
      ],
    });
    const project = index([app, pkg, dyn, opaque, star, broken], ["pkg.ext"], ["pkg.ns"]);
    expect(messages(app, project)).toEqual([]);
  });

  it("accepts a missing module when the parent binds that name", () => {
    const app = facts("app", { imports: [ref("pkg.run"), ref("pkg.dyn.thing")] });
    expect(messages(app, index([app, pkg, dyn]))).toEqual([]);
  });

  it("reports missing modules under namespace packages inside the project", () => {
    const app = facts("app", { imports: [ref("pkg.ns.gone")] });
    expect(messages(app, index([app, pkg], [], ["pkg.ns"]))).toEqual([
      "app.py:1: ModuleNotFoundError: No module named 'pkg.ns.gone'",
    ]);
  });

  it("does not judge top-level namespace packages", () => {
    const app = facts("app", { imports: [ref("tests.helpers", ["x"])] });
    expect(messages(app, index([app], [], ["tests"]))).toEqual([]);
  });

  it("skips guarded imports but checks conditional ones", () => {
    const app = facts("app", {
      imports: [
        ref("pkg.gone", undefined, { guarded: true, conditional: true }),
        ref("pkg.lazy", undefined, { conditional: true, line: 9 }),
      ],
    });
    expect(messages(app, index([app, pkg]))).toEqual([
      "app.py:9: ModuleNotFoundError: No module named 'pkg.lazy'",
    ]);
  });

  it("reports unresolvable relative imports", () => {
    const top = facts("top", { imports: [ref(".", ["x"], { level: 1 })] });
    const leaf = facts("pkg.leaf", { imports: [ref("..up", ["y"], { level: 2, line: 4 })] });
    expect(messages(top, index([top]))).toEqual([
      "top.py:1: ImportError: attempted relative import with no known parent package",
    ]);
    expect(messages(leaf, index([leaf, pkg]))).toEqual([
      "pkg/leaf.py:4: ImportError: attempted relative import beyond top-level package",
    ]);
  });

  it("checks a package's self-imports of submodules", () => {
    const init = facts("pkg", { imports: [ref("pkg", ["core", "ghost"], { level: 1 })] }, true);
    expect(messages(init, index([init, core]))).toEqual([
      "pkg/__init__.py:1: ImportError: cannot import name 'ghost' from 'pkg' (pkg/__init__.py)",
    ]);
  });
});

describe("nameImportable", () => {
  it("answers for defined names, submodules and unknown modules", () => {
    const pkg = facts("pkg", { allNames: ["a"] }, true);
    const sub = facts("pkg.sub");
    const project = index([pkg, sub]);
    expect(nameImportable(project, "pkg", "a")).toBe(true);
    expect(nameImportable(project, "pkg", "sub")).toBe(true);
    expect(nameImportable(project, "pkg", "b")).toBe(false);
    expect(nameImportable(project, "elsewhere", "b")).toBe(true);
  });
});
