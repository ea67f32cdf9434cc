import { describe, expect, it } from "vitest";
import {
  type AffectedInput,
  type RecordedImports,
  type SourceFile,
  selectAffected,
} from "../../../src/daemon/affected.js";
import { globMatches } from "../../../src/daemon/globs.js";
import { ImportGraph } from "../../../src/discovery/import-graph.js";
import type { ImportRef } from "../../../src/registry/types.js";

// A fake project: rel path → the modules it imports (module names by path).
type Fake = Record<string, string[]>;

function nameOf(rel: string): string {
  return rel
    .replace(/\.py$/, "")
    .replace(/\/__init__$/, "")
    .replaceAll("/", ".");
}

function input(
  project: Fake,
  changed: string[],
  extra: Partial<AffectedInput> = {},
): AffectedInput {
  const sources: SourceFile[] = Object.keys(project).map((rel) => ({ rel, names: [nameOf(rel)] }));
  const map = new Map<string, ImportRef[]>();
  for (const [rel, imports] of Object.entries(project)) {
    map.set(
      nameOf(rel),
      imports.map((module) => ({ module, line: 1, level: 0, conditional: false })),
    );
  }
  return {
    changed,
    sources,
    removed: [],
    testFiles: Object.keys(project).filter((rel) => /(^|\/)test_[^/]*\.py$/.test(rel)),
    graph: new ImportGraph(map),
    recorded: null,
    rules: { ignore: [], triggers: [] },
    ...extra,
  };
}

const PROJECT: Fake = {
  "app/__init__.py": [],
  "app/util.py": [],
  "app/models.py": ["app.util"],
  "app/views.py": [],
  "tests/conftest.py": [],
  "tests/test_models.py": ["app.models"],
  "tests/test_views.py": ["app.views"],
  "tests/api/conftest.py": ["app.views"],
  "tests/api/test_api.py": [],
  "other/test_other.py": [],
};

const selected = (s: ReturnType<typeof selectAffected>) => [...s.selected.keys()].sort();

describe("selectAffected", () => {
  it("selects test files whose static closure holds the changed module, with the chain", () => {
    const s = selectAffected(input(PROJECT, ["app/util.py"]));
    expect(s.all).toBeNull();
    expect(selected(s)).toEqual(["tests/test_models.py"]);
    expect(s.selected.get("tests/test_models.py")).toEqual([
      { file: "tests/test_models.py" },
      { file: "app/models.py", how: "imports" },
      { file: "app/util.py", how: "imports" },
    ]);
  });

  it("selects a changed test file itself, and nothing for an unrelated change", () => {
    expect(selected(selectAffected(input(PROJECT, ["tests/test_views.py"])))).toEqual([
      "tests/test_views.py",
    ]);
    // Importing app.models runs app/__init__.py (so does tests/api/conftest.py).
    expect(selected(selectAffected(input(PROJECT, ["app/__init__.py"])))).toEqual([
      "tests/api/test_api.py",
      "tests/test_models.py",
      "tests/test_views.py",
    ]);
    expect(selected(selectAffected(input(PROJECT, ["other/test_other.py"])))).toEqual([
      "other/test_other.py",
    ]);
  });

  it("a conftest selects every test file below its directory, and what it imports too", () => {
    const s = selectAffected(input(PROJECT, ["tests/api/conftest.py"]));
    expect(selected(s)).toEqual(["tests/api/test_api.py"]);
    const viaImport = selectAffected(input(PROJECT, ["app/views.py"]));
    expect(selected(viaImport)).toEqual(["tests/api/test_api.py", "tests/test_views.py"]);
    expect(viaImport.selected.get("tests/api/test_api.py")).toEqual([
      { file: "tests/api/test_api.py" },
      { file: "tests/api/conftest.py", how: "is below" },
      { file: "app/views.py", how: "imports" },
    ]);
  });

  it("the rootdir's conftest runs everything", () => {
    const project = { ...PROJECT, "conftest.py": [] };
    const s = selectAffected(input(project, ["conftest.py"]));
    expect(s.all?.why).toBe("a conftest at the rootdir");
    expect(selected(s)).toHaveLength(4);
  });

  it("a deleted module selects its importers", () => {
    const { "app/util.py": _gone, ...rest } = PROJECT;
    const s = selectAffected(
      input(rest, ["app/util.py"], { removed: [{ rel: "app/util.py", names: ["app.util"] }] }),
    );
    expect(selected(s)).toEqual(["tests/test_models.py"]);
  });

  it("non-Python files, config files, unknown Python files and outside files run everything", () => {
    for (const [file, why] of [
      ["data/table.csv", "not a Python file"],
      ["pyproject.toml", "pytest or dependency configuration"],
      ["requirements-dev.txt", "pytest or dependency configuration"],
      ["uv.lock", "pytest or dependency configuration"],
      ["build/gen.py", "a Python file outside the project's modules"],
      ["../lib/x.py", "outside the rootdir"],
    ] as const) {
      const s = selectAffected(input(PROJECT, [file]));
      expect(s.all, file).toEqual({ file, why });
      expect(selected(s), file).toHaveLength(4);
    }
  });

  it("watch-ignore drops files; watch-trigger narrows a non-Python change", () => {
    const rules = {
      ignore: ["docs/", "*.md"],
      triggers: [{ pattern: "data/**/*.csv", tests: ["tests/test_models.py"] }],
    };
    const ignoredOnly = selectAffected(
      input(PROJECT, ["docs/index.rst", "README.md", ".kiln/files.json"], { rules }),
    );
    expect(ignoredOnly.all).toBeNull();
    expect(selected(ignoredOnly)).toEqual([]);
    expect(ignoredOnly.ignored.map((i) => i.file)).toEqual([
      ".kiln/files.json",
      "README.md",
      "docs/index.rst",
    ]);
    const triggered = selectAffected(input(PROJECT, ["data/x/t.csv"], { rules }));
    expect(triggered.all).toBeNull();
    expect(selected(triggered)).toEqual(["tests/test_models.py"]);
    // A non-Python file no trigger names still runs everything.
    expect(selectAffected(input(PROJECT, ["data/x/t.json"], { rules })).all?.why).toBe(
      "not a Python file",
    );
  });

  it("adds what a test file loaded at run time to its closure", () => {
    const recorded: RecordedImports = {
      files: { "tests/api/test_api.py": ["app/models.py"] },
      session: [],
    };
    const s = selectAffected(input(PROJECT, ["app/util.py"], { recorded }));
    expect(selected(s)).toEqual(["tests/api/test_api.py", "tests/test_models.py"]);
    expect(s.selected.get("tests/api/test_api.py")).toEqual([
      { file: "tests/api/test_api.py" },
      { file: "app/models.py", how: "imported at run time" },
      { file: "app/util.py", how: "imports" },
    ]);
  });

  it("a file loaded at start-up outside test modules and conftests runs everything", () => {
    const plugin = { ...PROJECT, "plugins/fixtures.py": [] };
    const recorded = { files: {}, session: ["plugins/fixtures.py", "tests/conftest.py"] };
    expect(selectAffected(input(plugin, ["plugins/fixtures.py"], { recorded })).all?.why).toBe(
      "loaded at start-up, outside any test module",
    );
    // A conftest recorded at start-up still selects only below it.
    const conftest = selectAffected(input(plugin, ["tests/api/conftest.py"], { recorded }));
    expect(conftest.all).toBeNull();
    // So does a module a conftest imports statically.
    const viaConftest = selectAffected(
      input(plugin, ["app/views.py"], { recorded: { files: {}, session: ["app/views.py"] } }),
    );
    expect(viaConftest.all).toBeNull();
  });

  it("a test file whose closure imports a computed name runs on any Python change", () => {
    const s = selectAffected(input(PROJECT, ["app/util.py"], { dynamic: new Set(["app.views"]) }));
    expect(selected(s)).toEqual(["tests/test_models.py", "tests/test_views.py"]);
    expect(s.selected.get("tests/test_views.py")).toEqual([
      { file: "tests/test_views.py" },
      { file: "app/views.py", how: "imports" },
      { file: "app/util.py", how: "imports dynamically" },
    ]);
    // Once a run recorded what it imported, the record decides.
    const recorded = { files: { "tests/test_views.py": ["app/views.py"] }, session: [] };
    expect(
      selected(
        selectAffected(
          input(PROJECT, ["app/util.py"], { dynamic: new Set(["app.views"]), recorded }),
        ),
      ),
    ).toEqual(["tests/test_models.py"]);
  });
});

describe("globMatches", () => {
  it("follows the documented dialect", () => {
    const m = globMatches;
    expect(m("*.md", "docs/a/b.md")).toBe(true);
    expect(m("docs/*.md", "docs/a/b.md")).toBe(false);
    expect(m("docs/**/*.md", "docs/a/b.md")).toBe(true);
    expect(m("docs/**/*.md", "docs/b.md")).toBe(true);
    expect(m("docs/", "docs/a/b.md")).toBe(true);
    expect(m("data/?.csv", "data/a.csv")).toBe(true);
    expect(m("data/?.csv", "data/ab.csv")).toBe(false);
    expect(m("a.b", "axb")).toBe(false);
    expect(m("*.{csv,json}", "data/x.json")).toBe(true);
    expect(m(".env", "conf/.env")).toBe(true);
  });
});
