// The affected-test selection's inputs, from the disk: which files changed
// (git, or the files given), the project's Python files and their module
// names (discovery's walk), the static import graph (`kiln check`'s analysis,
// cached in .kiln/check-cache.json), what the workers recorded
// (.kiln/imports.json) and the [tool.kiln] watch rules. selectAffected()
// (affected.ts) stays pure; this file is where the world comes in.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { loadCheckCache } from "../check/cache.js";
import { CheckSetupError, runCheck } from "../check/run-check.js";
import { ImportGraph } from "../discovery/import-graph.js";
import { importRoots, looksLikeTestFile } from "../discovery/module-names.js";
import { walkProject } from "../discovery/walk.js";
import type { CompilerSource } from "../registry/shared-compiler.js";
import type { ImportRef } from "../registry/types.js";
import type { AffectedInput, SourceFile } from "./affected.js";
import { loadRecordedImports } from "./imports-store.js";
import { loadWatchRules } from "./watch-rules.js";

/** A bad --changed ref, no git, ...: a usage error (exit 4) with this message. */
export class ChangeSourceError extends Error {}

export type ChangeSource = { kind: "git"; ref: string } | { kind: "files"; files: string[] };

function toRel(rootdir: string, abs: string): string {
  return relative(rootdir, abs).split(sep).join("/");
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const why = stderr || (error instanceof Error ? error.message : String(error));
    throw new ChangeSourceError(`git ${args.join(" ")} failed: ${why}`);
  }
}

/** Whether `ref` names a commit in the repository at `cwd`. */
export function isGitRevision(ref: string, cwd: string): boolean {
  try {
    execFileSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
      cwd,
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Changed files relative to `rootdir`. git: the working tree against `ref`
 * (staged and unstaged edits, deletions, both sides of a rename), plus
 * untracked files that are not ignored.
 */
export function changedFiles(source: ChangeSource, rootdir: string, cwd: string): string[] {
  if (source.kind === "files") {
    return source.files.map((file) => toRel(rootdir, resolve(cwd, file)));
  }
  let top: string;
  try {
    top = git(["rev-parse", "--show-toplevel"], rootdir).trim();
  } catch (error) {
    throw new ChangeSourceError(
      `--changed needs a git repository at ${rootdir} (pytest's rootdir): ` +
        `${error instanceof Error ? error.message : String(error)}; ` +
        "name the changed files with --affected-by instead",
    );
  }
  if (!isGitRevision(source.ref, rootdir)) {
    throw new ChangeSourceError(
      `--changed ${source.ref}: not a commit in the git repository at ${top}`,
    );
  }
  const diff = git(["diff", "--name-only", "--no-renames", "-z", source.ref, "--"], top);
  const untracked = git(["ls-files", "--others", "--exclude-standard", "-z", "--full-name"], top);
  const paths = [...diff.split("\0"), ...untracked.split("\0")].filter((p) => p !== "");
  return [...new Set(paths.map((p) => toRel(rootdir, join(top, p))))].sort();
}

/**
 * Every module name a file can be imported as: the naming rule's
 * (module-names.ts) and, under pytest's default `prepend` import mode, its
 * name from the first directory above it without `__init__.py`, which pytest
 * puts on sys.path (`tests/helpers.py` is imported as `helpers`).
 */
export function namesOf(
  rel: string,
  roots: readonly string[],
  rootdir: string,
  hasInit: (dir: string) => boolean,
): string[] {
  const abs = join(rootdir, rel);
  const names = new Set<string>();
  for (const root of roots) {
    const fromRoot = relative(root, abs).split(sep).join("/");
    if (fromRoot.startsWith("..") || isAbsolute(fromRoot)) continue;
    names.add(dotted(fromRoot));
  }
  const parts = rel.split("/");
  let start = parts.length - 1;
  while (start > 0 && hasInit(parts.slice(0, start).join("/"))) start--;
  names.add(dotted(parts.slice(start).join("/")));
  names.delete("");
  return [...names];
}

function dotted(relPath: string): string {
  return relPath
    .replace(/\.py$/, "")
    .replace(/(^|\/)__init__$/, "")
    .split("/")
    .filter((p) => p !== "")
    .join(".");
}

export interface GatheredInputs {
  input: AffectedInput;
  /** The changed files as found (before the rules drop any). */
  changed: string[];
}

export async function gatherInputs(options: {
  rootdir: string;
  cwd: string;
  python: string;
  source: ChangeSource;
  /** `kiln watch`'s long-lived compile server (registry/shared-compiler.ts). */
  compiler?: CompilerSource;
}): Promise<GatheredInputs> {
  const { rootdir } = options;
  const changed = changedFiles(options.source, rootdir, options.cwd);
  const rules = loadWatchRules(rootdir);
  // The static graph: `kiln check`'s analysis, brought up to date (only
  // edited files are recompiled), then read from its cache.
  try {
    await runCheck({
      root: rootdir,
      python: options.python,
      ...(options.compiler === undefined ? {} : { compiler: options.compiler }),
    });
  } catch (error) {
    if (!(error instanceof CheckSetupError)) throw error;
    throw new ChangeSourceError(
      `cannot analyse the project's imports with ${options.python}: ${error.message}`,
    );
  }
  const cache = loadCheckCache(rootdir);
  const layout = walkProject(rootdir);
  const rels = new Set(layout.files.map((f) => f.rel));
  const hasInit = (dir: string) => rels.has(`${dir}/__init__.py`);
  const roots = importRoots(rootdir);
  const sources: SourceFile[] = layout.files.map((file) => ({
    rel: file.rel,
    names: [...new Set([file.module, ...namesOf(file.rel, roots, rootdir, hasInit)])],
  }));
  const imports = new Map<string, ImportRef[]>();
  for (const source of sources) {
    const refs = cache.files[source.rel]?.analysis?.imports ?? [];
    for (const name of source.names) imports.set(name, [...(imports.get(name) ?? []), ...refs]);
  }
  const removed: SourceFile[] = changed
    .filter((rel) => rel.endsWith(".py") && !rel.startsWith("../") && !rels.has(rel))
    .filter((rel) => !existsSync(join(rootdir, rel)))
    .map((rel) => ({ rel, names: namesOf(rel, roots, rootdir, hasInit) }));
  // A deleted module stays a node of the graph: `from lib import consts`
  // makes an edge to lib.consts only while lib.consts is a module
  // (ImportGraph's importTargets), and its importers must still be found.
  for (const gone of removed) {
    for (const name of gone.names) if (!imports.has(name)) imports.set(name, []);
  }
  const dynamic = new Set<string>();
  for (const source of sources) {
    if (cache.files[source.rel]?.analysis?.computedImports) {
      for (const name of source.names) dynamic.add(name);
    }
  }
  const recorded = loadRecordedImports(rootdir);
  const testFiles = layout.files
    .filter((f) => looksLikeTestFile(f.rel) && !f.rel.endsWith("conftest.py"))
    .map((f) => f.rel);
  for (const test of Object.keys(recorded?.files ?? {})) {
    if (rels.has(test)) testFiles.push(test);
  }
  return {
    changed,
    input: {
      changed,
      sources,
      removed,
      testFiles,
      graph: new ImportGraph(imports),
      recorded,
      dynamic,
      rules,
    },
  };
}
