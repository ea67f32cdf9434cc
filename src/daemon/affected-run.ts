// `kiln test --changed [REF]` / `--affected-by FILE`: the selection a run
// hands to the zygote (kiln_harness/affected.py's SelectionFilter), and the
// header line saying what was selected. Loaded only when one of the flags is
// given (test-command.ts), so a plain `kiln test` starts as before.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pytestRootdir } from "../config/rootdir.js";
import type { CompilerSource } from "../registry/shared-compiler.js";
import { type Selection, selectAffected } from "./affected.js";
import {
  type ChangeSource,
  ChangeSourceError,
  type GatheredInputs,
  gatherInputs,
  isGitRevision,
} from "./affected-inputs.js";
import { selectionLine } from "./affected-text.js";

export interface SelectionFlags {
  /** --changed: true without a value, else the ref (or a pytest path commander took for one). */
  changed?: string | boolean;
  /** --affected-by, repeatable, comma-separated lists allowed. */
  affectedBy: string[];
}

export interface ResolvedSource {
  source: ChangeSource;
  label: string;
  /** pytest's arguments, with a path --changed took for its ref given back. */
  pytestArgs: string[];
}

/** Which changes a run is about, or null when neither flag was given. */
export function resolveSource(
  flags: SelectionFlags,
  pytestArgs: readonly string[],
  cwd: string,
): ResolvedSource | null {
  const files = flags.affectedBy.flatMap((v) => v.split(",")).filter((f) => f !== "");
  if (flags.changed !== undefined && files.length > 0) {
    throw new ChangeSourceError("--changed and --affected-by cannot be used together");
  }
  if (files.length > 0) {
    const label =
      files.length === 1 ? `--affected-by ${files[0]}` : `--affected-by (${files.length} files)`;
    return { source: { kind: "files", files }, label, pytestArgs: [...pytestArgs] };
  }
  if (flags.changed === undefined) {
    if (flags.affectedBy.length > 0) throw new ChangeSourceError("--affected-by needs a file");
    return null;
  }
  let ref = typeof flags.changed === "string" ? flags.changed : "HEAD";
  let args = [...pytestArgs];
  // `kiln test --changed tests/`: commander takes an optional value from the
  // next argument; a path that is no revision is pytest's, as the user meant.
  if (
    typeof flags.changed === "string" &&
    !isGitRevision(ref, cwd) &&
    existsSync(resolve(cwd, ref.split("::")[0] as string))
  ) {
    args = [ref, ...args];
    ref = "HEAD";
  }
  return { source: { kind: "git", ref }, label: `--changed ${ref}`, pytestArgs: args };
}

export interface PreparedSelection {
  rootdir: string;
  gathered: GatheredInputs;
  selection: Selection;
  /** The candidate test files, sorted. */
  candidates: string[];
  line: string;
}

export async function prepareSelection(options: {
  resolved: ResolvedSource;
  cwd: string;
  python: string;
  env: NodeJS.ProcessEnv;
  compiler?: CompilerSource;
}): Promise<PreparedSelection> {
  const rootdir = pytestRootdir({
    cwd: options.cwd,
    args: options.resolved.pytestArgs,
    env: options.env,
  });
  const gathered = await gatherInputs({
    rootdir,
    cwd: options.cwd,
    python: options.python,
    source: options.resolved.source,
    ...(options.compiler === undefined ? {} : { compiler: options.compiler }),
  });
  const selection = selectAffected(gathered.input);
  const candidates = [...new Set(gathered.input.testFiles)].sort();
  const line = selectionLine(
    options.resolved.label,
    gathered.changed.length,
    selection,
    candidates.length,
  );
  return { rootdir, gathered, selection, candidates, line };
}

/** The hello's `select`: the test files to run out of the candidates. */
export function helloSelect(prepared: PreparedSelection): {
  rootdir: string;
  files: string[];
  candidates: string[];
  note: string;
} {
  return {
    rootdir: prepared.rootdir,
    files: [...prepared.selection.selected.keys()].sort(),
    // Everything runs: nothing is filtered (not even files that are no
    // candidates, such as doctests in modules).
    candidates: prepared.selection.all !== null ? [] : prepared.candidates,
    note: prepared.line,
  };
}
