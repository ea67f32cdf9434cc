// `kiln why NODEID [--changed [REF] | --affected-by FILE]`: why the affected-
// test selection (src/daemon/affected.ts) would run a test, as the chain of
// imports from its file to a changed file, or why it would not. Without
// either flag it asks about the working tree against HEAD, as `--changed`.
// Exit codes: 0 with an answer (selected or not), 4 on a usage error.
import { existsSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { KilnConfigError } from "../config/pyproject-kiln.js";
import { ChangeSourceError } from "../daemon/affected-inputs.js";
import { type PreparedSelection, prepareSelection, resolveSource } from "../daemon/affected-run.js";
import { chainText } from "../daemon/affected-text.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { chooseInterpreter } from "./interpreter-choice.js";

interface WhyFlags {
  changed?: string | boolean;
  affectedBy: string[];
  python?: string;
}

export function registerWhyCommand(program: Command): void {
  program
    .command("why")
    .description(
      "Say why `kiln test --changed`/`--affected-by` would run a test: the import chain " +
        "from its file to a changed file, or why there is none.",
    )
    .argument("<nodeid>", "a test's node id (or its file)")
    .option(
      "--changed [ref]",
      "files changed against a git ref (default: HEAD, untracked included)",
    )
    .option(
      "--affected-by <files>",
      "these files changed (repeatable, or comma-separated)",
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option("--python <path>", "the interpreter whose compiler reads the imports")
    .action(async (nodeid: string, flags: WhyFlags) => {
      process.exitCode = await why(nodeid, flags);
    });
}

async function why(nodeid: string, flags: WhyFlags): Promise<number> {
  const cwd = process.cwd();
  const interpreter = chooseInterpreter(flags.python, cwd);
  if (!interpreter.ok) {
    process.stderr.write(`kiln: error: ${interpreter.message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  const file = nodeid.split("::")[0] as string;
  let prepared: PreparedSelection;
  try {
    const changed =
      flags.changed === undefined && flags.affectedBy.length === 0 ? true : flags.changed;
    const resolved = resolveSource(
      { ...(changed === undefined ? {} : { changed }), affectedBy: flags.affectedBy },
      [file],
      cwd,
    );
    if (resolved === null) throw new Error("this is a bug in kiln: no change source for why");
    prepared = await prepareSelection({
      resolved,
      cwd,
      python: interpreter.path,
      env: process.env,
    });
  } catch (error) {
    if (error instanceof ChangeSourceError || error instanceof KilnConfigError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    throw error;
  }
  // A node id is relative to pytest's rootdir; a path may be relative to here.
  const fromCwd = resolve(cwd, file);
  const abs = existsSync(fromCwd) ? fromCwd : resolve(prepared.rootdir, file);
  const rel = relative(prepared.rootdir, abs).split(sep).join("/");
  const label = prepared.line.replace(/^kiln: /, "");
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(label);
  const { selection, gathered } = prepared;
  const chain = selection.selected.get(rel);
  if (!existsSync(abs)) {
    out(`${nodeid}: ${rel} does not exist under the rootdir ${prepared.rootdir}`);
    return ExitCode.USAGE_ERROR;
  }
  if (!prepared.candidates.includes(rel)) {
    out(
      `${nodeid}: selected: ${rel} is not a test file Kiln selects among ` +
        "(test_*.py, *_test.py, or a file a recorded run collected), so it always runs",
    );
    return ExitCode.OK;
  }
  if (selection.all !== null) {
    out(
      `${nodeid}: selected: everything runs, because ${selection.all.file} changed (${selection.all.why})`,
    );
    if (chain !== undefined && chain.length > 2) out(`  also: ${chainText(chain)}`);
    return ExitCode.OK;
  }
  if (chain !== undefined) {
    out(`${nodeid}: selected:`);
    out(`  ${chainText(chain)}`);
    return ExitCode.OK;
  }
  const considered = gathered.changed.filter((f) => !selection.ignored.some((i) => i.file === f));
  out(
    `${nodeid}: not selected: no import chain leads from ${rel} to ${
      considered.length === 0
        ? "a changed file (none changed)"
        : `any of the changed files: ${considered.join(", ")}`
    }`,
  );
  out(
    "  (searched: its static imports, the conftests above it and what they import, and the " +
      `imports recorded when it last ran${gathered.input.recorded === null ? ": none recorded yet" : ""})`,
  );
  for (const ignored of selection.ignored) {
    if (ignored.rule === "watch-ignore") out(`  ignored: ${ignored.file} (${ignored.why})`);
  }
  return ExitCode.OK;
}
