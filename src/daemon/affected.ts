// Affected-test selection (DESIGN.md section 7), a pure function: from the
// changed files, the static import graph, the imports the workers recorded
// and the conftest layout, which test files must run, and why each one.
// `kiln test --changed/--affected-by`, `kiln why`, and later the daemon and
// `kiln watch` all call selectAffected(); affected-inputs.ts gathers its
// inputs from the disk, git and `.kiln/`.
//
// The rule: a test file is selected when its import closure contains a
// changed file. The closure is the static graph (ImportGraph: `import x`,
// `from x import y`, parent packages), the conftests above the test file and
// everything they import (pytest loads them for every test below them), and
// the project files the test file really loaded at run time (recorded by the
// zygote at collection and by the workers while running it). When in doubt,
// select more: a changed pytest config, dependency manifest or any other
// non-Python file selects everything, unless `[tool.kiln] watch-ignore` or
// `watch-trigger` says otherwise; so does a Python file that is not one of
// the project's modules (it may be a dependency), and a project file loaded
// at start-up outside any test module (by a plugin, `pytest_plugins`, ...).
import type { ImportGraph } from "../discovery/import-graph.js";
import { GlobSet } from "./globs.js";

/** A Python file of the project and every module name it can be imported as. */
export interface SourceFile {
  /** Relative to pytest's rootdir, with forward slashes. */
  rel: string;
  names: readonly string[];
}

/** What the workers recorded, by file path relative to the rootdir. */
export interface RecordedImports {
  /** Test file → project files loaded while collecting or running it. */
  files: Readonly<Record<string, readonly string[]>>;
  /** Project files loaded at start-up outside any test module (conftests, plugins). */
  session: readonly string[];
}

export interface WatchTrigger {
  /** A glob over changed non-Python files. */
  pattern: string;
  /** Globs of the test files such a change selects. */
  tests: readonly string[];
}

export interface WatchRules {
  ignore: readonly string[];
  triggers: readonly WatchTrigger[];
}

export interface AffectedInput {
  /** Changed files (edited, added, deleted, renamed), relative to the rootdir. */
  changed: readonly string[];
  /** Every Python file of the project on disk now. */
  sources: readonly SourceFile[];
  /** Changed Python files no longer on disk, named by the same naming rule. */
  removed: readonly SourceFile[];
  /** The test files that could be selected (relative to the rootdir). */
  testFiles: readonly string[];
  /** The static import graph over the sources' module names. */
  graph: ImportGraph;
  /** null: no run recorded yet (the static graph alone decides). */
  recorded: RecordedImports | null;
  /** Modules that import a computed name (importlib.import_module(x)). */
  dynamic?: ReadonlySet<string>;
  rules: WatchRules;
}

/** One step of the chain from a test file to a changed file. */
export interface Link {
  /** A file relative to the rootdir, or a module name with no file. */
  file: string;
  /** How the previous link reaches this one; absent for the test file itself. */
  how?: "imports" | "imported at run time" | "is below" | "imports dynamically";
}

/** Why everything runs. */
export interface RunAllReason {
  file: string;
  why:
    | "pytest or dependency configuration"
    | "not a Python file"
    | "a Python file outside the project's modules"
    | "outside the rootdir"
    | "loaded at start-up, outside any test module"
    | "a conftest at the rootdir";
}

export interface Selection {
  /** Set when every test file runs; the first reason found. */
  all: RunAllReason | null;
  /** Selected test file → the chain to a changed file (the test file first). */
  selected: Map<string, Link[]>;
  /** Changed files that select nothing by rule, with the rule. */
  ignored: { file: string; rule: "tool state" | "watch-ignore"; why: string }[];
}

const CONFIG_FILES = new Set([
  "pytest.ini",
  ".pytest.ini",
  "pytest.toml",
  ".pytest.toml",
  "pyproject.toml",
  "tox.ini",
  "setup.cfg",
  "setup.py",
  "Pipfile",
  "Pipfile.lock",
  "poetry.lock",
  "uv.lock",
  "pdm.lock",
]);

/** Dependency manifests and lockfiles: requirements*.txt, constraints*.txt, *.lock. */
function isConfigFile(rel: string): boolean {
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  return (
    CONFIG_FILES.has(base) ||
    /^(requirements|constraints).*\.(txt|in)$/.test(base) ||
    base.endsWith(".lock")
  );
}

/** Kiln's, pytest's and git's own state: never a change to the project. */
function isToolState(rel: string): boolean {
  return (
    /^(\.kiln|\.pytest_cache|\.git|\.hypothesis|\.mypy_cache|\.ruff_cache)(\/|$)/.test(rel) ||
    /(^|\/)__pycache__\//.test(rel) ||
    rel.endsWith(".pyc")
  );
}

function dirOf(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? "" : rel.slice(0, slash);
}

function isBelow(rel: string, dir: string): boolean {
  return dir === "" || rel.startsWith(`${dir}/`);
}

function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

export function selectAffected(input: AffectedInput): Selection {
  const ignored: Selection["ignored"] = [];
  const ignore = new GlobSet(input.rules.ignore);
  const triggers = input.rules.triggers.map((t) => ({ ...t, match: new GlobSet([t.pattern]) }));
  const byName = new Map<string, string>();
  for (const source of [...input.removed, ...input.sources]) {
    for (const name of source.names) byName.set(name, source.rel);
  }
  const namesOf = new Map<string, readonly string[]>();
  for (const source of [...input.sources, ...input.removed]) namesOf.set(source.rel, source.names);
  const testFiles = [...new Set(input.testFiles)].sort();
  const selected = new Map<string, Link[]>();
  let all: RunAllReason | null = null;
  const runAll = (reason: RunAllReason) => {
    all ??= reason;
  };

  // 1. Classify each changed file; Python modules become seeds of the walk.
  const seeds: string[] = [];
  const changedRels = new Set<string>();
  for (const file of [...new Set(input.changed)].sort()) {
    if (isToolState(file)) {
      ignored.push({ file, rule: "tool state", why: "Kiln's, pytest's or git's own state" });
      continue;
    }
    const ignoredBy = ignore.match(file);
    if (ignoredBy !== undefined) {
      ignored.push({
        file,
        rule: "watch-ignore",
        why: `watch-ignore ${JSON.stringify(ignoredBy)}`,
      });
      continue;
    }
    changedRels.add(file);
    if (file.startsWith("../")) {
      runAll({ file, why: "outside the rootdir" });
    } else if (isConfigFile(file)) {
      runAll({ file, why: "pytest or dependency configuration" });
    } else if (file.endsWith(".py")) {
      const names = namesOf.get(file);
      if (names === undefined) runAll({ file, why: "a Python file outside the project's modules" });
      else seeds.push(...names);
    } else {
      const fired = triggers.filter((t) => t.match.match(file) !== undefined);
      if (fired.length === 0) {
        runAll({ file, why: "not a Python file" });
        continue;
      }
      for (const trigger of fired) {
        const wanted = new GlobSet(trigger.tests);
        for (const test of testFiles) {
          if (wanted.match(test) !== undefined && !selected.has(test)) {
            selected.set(test, [{ file: test }, { file, how: "imports" }]);
          }
        }
      }
    }
  }

  // 2. Walk the graph backwards from the changed modules: every module that
  // imports one, directly or not, with the next step towards the change.
  const next = new Map<string, string | null>();
  const queue: string[] = [];
  for (const seed of seeds) {
    if (!next.has(seed)) {
      next.set(seed, null);
      queue.push(seed);
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const current = queue[head] as string;
    for (const importer of input.graph.directDependents(current)) {
      if (next.has(importer)) continue;
      next.set(importer, current);
      queue.push(importer);
    }
  }
  const chainFrom = (module: string): Link[] => {
    const links: Link[] = [];
    let at: string | null | undefined = next.get(module);
    while (at !== null && at !== undefined) {
      links.push({ file: byName.get(at) ?? at, how: "imports" });
      at = next.get(at);
    }
    return links;
  };
  /** The files the walk reached (changed or importing a change), with their chain. */
  const reached = new Map<string, Link[]>();
  for (const module of queue) {
    const rel = byName.get(module);
    if (rel !== undefined && !reached.has(rel)) reached.set(rel, chainFrom(module));
  }
  const reachedModule = (rel: string): string | undefined =>
    (namesOf.get(rel) ?? []).find((name) => next.has(name));

  // 3. Test files reached directly (a changed test file reaches itself).
  for (const test of testFiles) {
    const module = reachedModule(test);
    if (module !== undefined && !selected.has(test)) {
      selected.set(test, [{ file: test }, ...chainFrom(module)]);
    }
  }

  // 4. Conftests reached: every test file below them.
  for (const [rel, chain] of reached) {
    if (baseName(rel) !== "conftest.py") continue;
    const dir = dirOf(rel);
    if (dir === "" && chain.length === 0) runAll({ file: rel, why: "a conftest at the rootdir" });
    for (const test of testFiles) {
      if (isBelow(test, dir) && !selected.has(test)) {
        selected.set(test, [{ file: test }, { file: rel, how: "is below" }, ...chain]);
      }
    }
  }

  // 5. What the workers recorded: a test file that loaded a reached file.
  if (input.recorded !== null) {
    for (const test of testFiles) {
      if (selected.has(test)) continue;
      for (const loaded of input.recorded.files[test] ?? []) {
        const chain = reached.get(loaded);
        if (chain !== undefined) {
          selected.set(test, [
            { file: test },
            { file: loaded, how: "imported at run time" },
            ...chain,
          ]);
          break;
        }
      }
    }
    // A conftest and what it imports statically are step 4's: they select
    // the tests below that conftest, not every test.
    const fromConftests = new Set<string>();
    if (input.recorded.session.some((loaded) => reached.has(loaded))) {
      for (const source of input.sources) {
        if (baseName(source.rel) !== "conftest.py") continue;
        fromConftests.add(source.rel);
        for (const name of source.names) {
          for (const dep of input.graph.dependencies(name)) {
            const rel = byName.get(dep);
            if (rel !== undefined) fromConftests.add(rel);
          }
        }
      }
    }
    for (const loaded of input.recorded.session) {
      if (reached.has(loaded) && !fromConftests.has(loaded)) {
        runAll({ file: loaded, why: "loaded at start-up, outside any test module" });
        break;
      }
    }
  }

  // 6. Modules importing a computed name may import anything: a test file
  // whose closure holds one runs on any Python change, until a run has
  // recorded what it really imported (step 5 then knows).
  if (seeds.length > 0 && input.dynamic !== undefined && input.dynamic.size > 0) {
    for (const test of testFiles) {
      if (selected.has(test) || input.recorded?.files[test] !== undefined) continue;
      for (const name of namesOf.get(test) ?? []) {
        const closure = [name, ...input.graph.dependencies(name)];
        const dynamic = closure.find((m) => input.dynamic?.has(m));
        if (dynamic !== undefined) {
          const first = changedRels.values().next().value as string;
          selected.set(test, [
            { file: test },
            { file: byName.get(dynamic) ?? dynamic, how: "imports" },
            { file: first, how: "imports dynamically" },
          ]);
          break;
        }
      }
    }
  }

  if (all !== null) {
    // Everything runs; keep the chains found for `kiln why`, add the rest.
    const reason: RunAllReason = all;
    for (const test of testFiles) {
      if (!selected.has(test)) selected.set(test, [{ file: test }, { file: reason.file }]);
    }
  }
  return { all, selected, ignored };
}
