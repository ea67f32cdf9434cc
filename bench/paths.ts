// Where the benchmark reads and writes. Everything generated (suites, results)
// lives in git-ignored folders next to these sources.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

// dist-bench/paths.js and bench/paths.ts both sit one level below the repo.
export const REPO = resolve(import.meta.dirname, "..");
// KILN_BENCH_KILN times another build (say, a clone of a given commit) while
// the working tree is being edited; its Python harness is the one next to it.
export const KILN_CLI = process.env.KILN_BENCH_KILN ?? join(REPO, "dist/cli/main.js");
/** The checkout the CLI was built from: dist/cli/main.js is three levels down. */
export const KILN_REPO = resolve(KILN_CLI, "../../..");
export const KILN_SRC = join(KILN_REPO, "src");
export const SUITES_DIR = join(REPO, "bench/suites");
export const RESULTS_DIR = join(REPO, "bench/results");

// The shared project generator (deterministic for a given seed); an env var
// points elsewhere when the bench runs outside this workspace.
// shared/ sits beside the checkout (here and in CI's fresh clone).
export const GEN_PROJECT =
  process.env.KILN_BENCH_GEN_PROJECT ??
  [join(REPO, "../shared/tools/gen_project.py"), "/work/shared/tools/gen_project.py"].find((p) =>
    existsSync(p),
  ) ??
  join(REPO, "../shared/tools/gen_project.py");

// Debian's python3 has pytest, pytest-xdist and pytest-forked here; the
// python3 on PATH may not.
export const DEFAULT_PYTHON = process.env.KILN_BENCH_PYTHON ?? "/usr/bin/python3";
