// Suites made by the shared generator (/work/shared/tools/gen_project.py): a
// src/ layout of packages whose modules import each other, and test files
// that import them (and, with --heavy, costly stdlib/third-party modules).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { benchEnv } from "../env.js";
import { GEN_PROJECT } from "../paths.js";

export interface GenProjectSize {
  pkgs: number;
  mods: number;
  tests: number;
  cases: number;
  heavy: readonly string[];
  seed: number;
}

export function genProject(python: string, dir: string, size: GenProjectSize): void {
  if (!existsSync(GEN_PROJECT)) {
    throw new Error(`the project generator ${GEN_PROJECT} is missing; set KILN_BENCH_GEN_PROJECT`);
  }
  const args = [
    GEN_PROJECT,
    dir,
    "--pkgs",
    String(size.pkgs),
    "--mods",
    String(size.mods),
    "--tests",
    String(size.tests),
    "--cases",
    String(size.cases),
    "--seed",
    String(size.seed),
  ];
  if (size.heavy.length > 0) args.push("--heavy", size.heavy.join(","));
  const result = spawnSync(python, args, { encoding: "utf8", env: benchEnv() });
  if (result.status !== 0) {
    throw new Error(`${GEN_PROJECT} failed: ${result.stderr || result.error?.message}`);
  }
}

/** Items gen_project.py makes per file: one case in four is parametrized three ways. */
export function genProjectItems(size: GenProjectSize): number {
  let perFile = 0;
  for (let c = 0; c < size.cases; c++) perFile += c % 4 === 2 ? 3 : 1;
  return perFile * size.tests;
}

/** A digest of the generator script itself, for the suite's stamp. */
export function genProjectDigest(): string {
  if (!existsSync(GEN_PROJECT)) return "missing";
  return createHash("sha256").update(readFileSync(GEN_PROJECT)).digest("hex").slice(0, 16);
}
