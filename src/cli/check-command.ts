// `kiln check [dir]`: a static pre-flight over the whole project, without
// running it. Reports, one `path:line: message` line each on stdout:
//   - files that do not compile (syntax errors, bad encodings, unreadable);
//   - imports of project modules that do not exist;
//   - `from X import name` where the project module X defines no `name` and
//     has no submodule X.name (modules with a module-level __getattr__, a
//     star import, or globals()/exec tricks are not judged).
// Imports inside `try: ... except ...:` are expected to fail sometimes and
// are never reported. Which files are modules, and under which names, is
// documented in src/discovery/module-names.ts (the project dir and `src/` are import
// roots; packages are directories with __init__.py), and which directories
// are walked in src/discovery/walk.ts (pytest's collection rules).
//
// Incremental: .kiln/check-cache.json remembers each file's analysis and
// problems; only edited files are recompiled (the compile server starts only
// then) and only edited modules and their transitive importers are
// re-checked. --explain (or KILN_CHECK_TRACE=1) lists which were which.
//
// Exit codes (src/protocol/exit-codes.ts): 0 clean, 1 problems found, 3 internal
// error, 4 usage error.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { CheckSetupError, explainLines, formatProblem, runCheck } from "../check/run-check.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { chooseInterpreter } from "./interpreter-choice.js";

interface CheckFlags {
  python?: string;
  explain?: boolean;
  cache: boolean;
}

export function registerCheckCommand(program: Command): void {
  program
    .command("check")
    .description(
      "Statically check the project: syntax errors, imports of missing project modules, " +
        "and names imported from project modules that do not define them.",
    )
    .argument("[dir]", "the project directory", ".")
    .option("--python <path>", "the interpreter whose compiler judges the syntax")
    .option("--explain", "list which modules were re-analysed and re-checked, and which reused")
    .option("--no-cache", "ignore .kiln/check-cache.json and do not update it")
    // Commander exits 1 on a bad flag, which here means "problems found".
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE_ERROR);
    })
    .action(async (dir: string, flags: CheckFlags) => {
      process.exitCode = await checkAction(dir, flags);
    });
}

async function checkAction(dir: string, flags: CheckFlags): Promise<number> {
  const err = (line: string) => process.stderr.write(`kiln check: ${line}\n`);
  const root = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) {
    process.stderr.write(`kiln: error: ${dir}: not a directory\n`);
    return ExitCode.USAGE_ERROR;
  }
  const interpreter = chooseInterpreter(flags.python, root);
  if (!interpreter.ok) {
    process.stderr.write(`kiln: error: ${interpreter.message}\n`);
    return ExitCode.USAGE_ERROR;
  }
  let outcome: Awaited<ReturnType<typeof runCheck>>;
  try {
    outcome = await runCheck({ root, python: interpreter.path, useCache: flags.cache });
  } catch (error) {
    if (error instanceof CheckSetupError) {
      process.stderr.write(`kiln: error: ${error.message}\n`);
      return ExitCode.USAGE_ERROR;
    }
    process.stderr.write(
      `kiln: error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return ExitCode.INTERNAL_ERROR;
  }
  if (flags.explain || process.env.KILN_CHECK_TRACE === "1") {
    for (const line of explainLines(outcome)) err(line);
  }
  if (outcome.cacheWarning) err(`warning: ${outcome.cacheWarning}`);
  const out = outcome.problems.map((p) => `${formatProblem(p)}\n`).join("");
  process.stdout.write(out);
  const count = outcome.problems.length;
  err(
    `${outcome.files} file${outcome.files === 1 ? "" : "s"}, ` +
      (count === 0 ? "no problems" : `${count} problem${count === 1 ? "" : "s"}`),
  );
  return count === 0 ? ExitCode.OK : ExitCode.CHECK_PROBLEMS;
}
