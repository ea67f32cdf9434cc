// `kiln check`, the engine: walk the project, reuse what the cache knows,
// compile only new or edited files (the compile server is started only then),
// and re-check only the modules an edit can affect: the edited modules and
// every module that imports one of them, transitively (the import graph's
// dependents, in the old graph and the new one, so deletions count too).
import { readFileSync, realpathSync, statSync } from "node:fs";
import { kilnDir } from "../config/kiln-dir.js";
import { FileIndex } from "../discovery/file-index.js";
import { ImportGraph } from "../discovery/import-graph.js";
import { type ProjectFile, walkProject } from "../discovery/walk.js";
import {
  CompileServer,
  type CompileServerOptions,
  HARNESS_DIR,
  isCompileFailure,
} from "../registry/compile-client.js";
import type { CompilerSource } from "../registry/shared-compiler.js";
import type { ImportRef } from "../registry/types.js";
import {
  type CachedFile,
  type CheckCache,
  emptyCache,
  type InterpreterStamp,
  loadCheckCache,
  saveCheckCache,
} from "./cache.js";
import { checkModule, type ModuleFacts, type Problem, type ProjectIndex } from "./rules.js";

/** The set-up cannot work (no interpreter, the compile server cannot start): exit 4. */
export class CheckSetupError extends Error {
  override name = "CheckSetupError";
}

export interface CheckOptions {
  root: string;
  /** The interpreter whose compiler judges the syntax. */
  python: string;
  harnessDir?: string;
  /** false: ignore `.kiln/check-cache.json` and do not write it. Default true. */
  useCache?: boolean;
  server?: CompileServerOptions;
  /** Where the compile server comes from (`kiln watch` keeps one: shared-compiler.ts); default a new one. */
  compiler?: CompilerSource;
}

export interface CheckOutcome {
  /** Every problem in the project, sorted by path and line. */
  problems: Problem[];
  files: number;
  /** Modules (re)compiled and analysed in this run, sorted. */
  analysed: string[];
  /** Modules whose cached analysis was reused. */
  reusedAnalysis: string[];
  /** Modules whose imports were (re)checked. */
  checked: string[];
  /** Modules whose cached problems were reused. */
  reusedResults: string[];
  /** Modules that disappeared since the cached run. */
  removed: string[];
  serverStarted: boolean;
  /** Set when the cache could not be written (the check itself succeeded). */
  cacheWarning?: string;
}

interface FileState {
  file: ProjectFile;
  entry: CachedFile;
  fresh: boolean;
}

export async function runCheck(options: CheckOptions): Promise<CheckOutcome> {
  const { root } = options;
  const useCache = options.useCache ?? true;
  const layout = walkProject(root);
  const stamp = interpreterStamp(options.python);
  let cache = useCache ? loadCheckCache(root) : emptyCache();
  if (!sameStamp(cache.interpreter, stamp)) cache = { ...emptyCache(), files: {} };

  // 1. Which files can keep their cached analysis: those whose content (the
  // shared hash cache's sha256, see discovery/file-index.ts) is unchanged.
  const hashes = FileIndex.load(kilnDir(root), { persist: useCache });
  const states: FileState[] = [];
  const toCompile: Array<{ file: ProjectFile; sha256: string }> = [];
  for (const file of layout.files) {
    const prev = cache.files[file.rel];
    const hashed = hashes.hash(file.abs);
    if (hashed === undefined) {
      states.push({ file, entry: unreadable(file), fresh: true });
      continue;
    }
    const sameName = prev && prev.module === file.module && prev.isPackage === file.isPackage;
    if (prev && sameName && prev.sha256 === hashed.hash) {
      states.push({ file, entry: prev, fresh: false });
      continue;
    }
    toCompile.push({ file, sha256: hashed.hash });
  }

  // 2. Compile what changed, in one batch, only if there is anything.
  let serverStarted = false;
  if (toCompile.length > 0) {
    let server: CompileServer;
    try {
      server = options.compiler
        ? await options.compiler.take()
        : await CompileServer.start(options.python, options.harnessDir ?? HARNESS_DIR, {
            cwd: root,
            ...options.server,
          });
    } catch (error) {
      throw new CheckSetupError(error instanceof Error ? error.message : String(error));
    }
    serverStarted = true;
    try {
      const outcomes = await server.compile(
        toCompile.map(({ file }) => ({
          path: file.abs,
          module: file.module,
          isPackage: file.isPackage,
          rewrite: false,
        })),
      );
      outcomes.forEach((outcome, i) => {
        const item = toCompile[i] as (typeof toCompile)[number];
        const base = {
          module: item.file.module,
          isPackage: item.file.isPackage,
        };
        const entry: CachedFile = isCompileFailure(outcome)
          ? {
              ...base,
              sha256: item.sha256,
              error: { line: outcome.line, message: outcome.message },
            }
          : {
              ...base,
              sha256: outcome.sourceHash,
              analysis: {
                imports: outcome.imports,
                allNames: outcome.allNames,
                dynamicNames: outcome.dynamicNames,
                namesOpaque: outcome.namesOpaque,
                computedImports: outcome.computedImports,
              },
            };
        states.push({ file: item.file, entry, fresh: true });
      });
    } finally {
      await (options.compiler ? options.compiler.give(server) : server.close());
    }
  }
  states.sort((x, y) => (x.file.rel < y.file.rel ? -1 : x.file.rel > y.file.rel ? 1 : 0));

  // 3. What changed, as module names: edited, new, renamed and removed modules,
  // and modules that exist without a .py file (namespaces, extensions).
  const changed = new Set<string>();
  const present = new Set(layout.files.map((f) => f.rel));
  for (const { file, fresh } of states) {
    if (!fresh) continue;
    changed.add(file.module);
    const prev = cache.files[file.rel];
    if (prev && prev.module !== file.module) changed.add(prev.module);
  }
  const removed: string[] = [];
  for (const [rel, prev] of Object.entries(cache.files)) {
    if (!present.has(rel)) {
      changed.add(prev.module);
      removed.push(prev.module);
    }
  }
  for (const name of symmetricDifference(cache.otherModules, layout.otherModules)) {
    changed.add(name);
  }
  for (const name of symmetricDifference(cache.topLevel, layout.topLevel)) changed.add(name);

  // 4. Who must be re-checked.
  const newGraph = new ImportGraph(importMap(states.map((s) => s.entry)));
  const oldGraph = new ImportGraph(importMap(Object.values(cache.files)));
  const affected = new Set<string>([
    ...newGraph.dependentsOfAll(changed),
    ...oldGraph.dependentsOfAll(changed),
  ]);

  const modules = new Map<string, ModuleFacts>();
  for (const { file, entry } of states) {
    if (!modules.has(file.module)) modules.set(file.module, factsOf(file, entry));
  }
  const index: ProjectIndex = {
    modules,
    otherModules: new Set(layout.otherModules),
    namespacePackages: new Set(layout.namespacePackages),
    topLevel: new Set(layout.topLevel),
  };

  const checked: string[] = [];
  const reusedResults: string[] = [];
  const problems: Problem[] = [];
  const files: Record<string, CachedFile> = {};
  for (const { file, entry } of states) {
    let fileProblems = entry.problems;
    if (fileProblems === undefined || changed.has(file.module) || affected.has(file.module)) {
      fileProblems = checkModule(factsOf(file, entry), index).map(({ line, message }) => ({
        line,
        message,
      }));
      checked.push(file.module);
    } else {
      reusedResults.push(file.module);
    }
    files[file.rel] = { ...entry, problems: fileProblems };
    for (const problem of fileProblems) problems.push({ rel: file.rel, ...problem });
  }
  problems.sort((x, y) =>
    x.rel !== y.rel ? (x.rel < y.rel ? -1 : 1) : x.line - y.line || cmp(x.message, y.message),
  );

  const outcome: CheckOutcome = {
    problems,
    files: states.length,
    analysed: states.filter((s) => s.fresh).map((s) => s.file.module),
    reusedAnalysis: states.filter((s) => !s.fresh).map((s) => s.file.module),
    checked,
    reusedResults,
    removed: removed.sort(),
    serverStarted,
  };
  if (useCache) {
    const next: CheckCache = {
      version: cache.version,
      interpreter: stamp,
      otherModules: layout.otherModules,
      topLevel: layout.topLevel,
      files,
    };
    try {
      saveCheckCache(root, next);
      hashes.save();
    } catch (error) {
      outcome.cacheWarning = `cannot write the check cache: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return outcome;
}

function factsOf(file: ProjectFile, entry: CachedFile): ModuleFacts {
  return {
    module: file.module,
    rel: file.rel,
    isPackage: file.isPackage,
    ...(entry.analysis ? { analysis: entry.analysis } : {}),
    ...(entry.error ? { error: entry.error } : {}),
  };
}

function importMap(entries: readonly CachedFile[]): Map<string, ImportRef[]> {
  const map = new Map<string, ImportRef[]>();
  for (const entry of entries) {
    const refs = entry.analysis?.imports ?? [];
    const known = map.get(entry.module);
    if (known) known.push(...refs);
    else map.set(entry.module, [...refs]);
  }
  return map;
}

function unreadable(file: ProjectFile): CachedFile {
  let reason = "vanished";
  try {
    readFileSync(file.abs);
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  return {
    // Never matches a hash: retried on the next run.
    sha256: "",
    module: file.module,
    isPackage: file.isPackage,
    error: { line: 0, message: `cannot read: ${reason}` },
  };
}

function interpreterStamp(python: string): InterpreterStamp {
  try {
    const path = realpathSync(python);
    const st = statSync(path, { bigint: true });
    return { path, size: Number(st.size), mtimeNs: String(st.mtimeNs) };
  } catch {
    return { path: python, size: -1, mtimeNs: "-1" };
  }
}

function sameStamp(a: InterpreterStamp | undefined, b: InterpreterStamp): boolean {
  return a !== undefined && a.path === b.path && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const left = new Set(a);
  const right = new Set(b);
  return [...a.filter((x) => !right.has(x)), ...b.filter((x) => !left.has(x))];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `path:line: message`, one problem per line (line 0, "no line", prints as 1). */
export function formatProblem(problem: Problem): string {
  return `${problem.rel}:${Math.max(1, problem.line)}: ${problem.message}`;
}

/** The --explain / KILN_CHECK_TRACE=1 lines. */
export function explainLines(outcome: CheckOutcome): string[] {
  const list = (names: readonly string[]) => (names.length > 0 ? names.join(" ") : "(none)");
  return [
    `analysed: ${list(outcome.analysed)}`,
    `reused analysis: ${list(outcome.reusedAnalysis)}`,
    `checked: ${list(outcome.checked)}`,
    `reused results: ${list(outcome.reusedResults)}`,
    `removed: ${list(outcome.removed)}`,
    `compile server: ${outcome.serverStarted ? "started" : "not started"}`,
  ];
}
