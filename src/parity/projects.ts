// Fixture projects and their parity.json:
//   { "requires"?: ["pytest_cov", ...],
//     "runs": [ { "name", "kiln_args", "pytest_args", "exit_code", "text_exempt"? } ] }
// "requires" names the modules (third-party pytest plugins) the interpreter
// must import for the project to mean anything; without them it is skipped.
// text_exempt: {"<nodeid>": "<why>"}, tests whose failure text is Kiln's own
// by design (a worker crash, Kiln's --timeout); their outcomes still count.

import { cpSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isRecord } from "./compare.js";

export interface ParityRun {
  name: string;
  kilnArgs: string[];
  pytestArgs: string[];
  /** The baseline's exit code; undefined for an ad-hoc run without parity.json. */
  exitCode: number | undefined;
  /** nodeid -> reason: failure text not compared (see the header). */
  textExempt: Readonly<Record<string, string>>;
}

export interface Project {
  name: string;
  dir: string;
  runs: ParityRun[];
  /** Whether runs came from a parity.json (an ad-hoc directory has one empty run). */
  hasParityFile: boolean;
  /** Modules the interpreter must import (parity.json's "requires"). */
  requires: string[];
}

/** The repository root: this file lives in <repo>/src/parity or <repo>/dist/parity. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const PROJECTS_DIR = join(REPO_ROOT, "tests", "fixtures", "projects");

export function listFixtureProjects(projectsDir: string = PROJECTS_DIR): string[] {
  return readdirSync(projectsDir)
    .filter((name) => existsSync(join(projectsDir, name, "parity.json")))
    .sort()
    .map((name) => join(projectsDir, name));
}

/** A project directory given on the command line: a path, or a fixture project's name. */
export function resolveProjectDir(arg: string, projectsDir: string = PROJECTS_DIR): string {
  const direct = resolve(arg);
  if (existsSync(direct) && statSync(direct).isDirectory()) return direct;
  const named = join(projectsDir, arg);
  if (existsSync(named) && statSync(named).isDirectory()) return named;
  throw new Error(`no such project directory: ${arg}`);
}

/**
 * The directory one run of `project` happens in. An example project under
 * tests/fixtures/projects runs in a fresh copy under `scratch`: Kiln writes
 * .kiln/ (registry, durations, run records) into the project it runs, plugins
 * write their own files (pytest-cov's .coverage), and a run in the committed
 * fixtures would leave them in the repository and start the next run warm.
 * Any other directory runs in place, as `pytest` and `kiln test` would.
 */
export function runDirectory(
  project: Project,
  runName: string,
  scratch: string,
  projectsDir: string = PROJECTS_DIR,
): string {
  const inside = relative(projectsDir, project.dir);
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) return project.dir;
  // Same base name as the original: pytest prints the rootdir.
  const copy = join(scratch, `${project.name}.${runName}`, basename(project.dir));
  cpSync(project.dir, copy, {
    recursive: true,
    filter: (source) => !/[\\/](\.kiln|__pycache__|\.pytest_cache)$/.test(source),
  });
  return copy;
}

export function loadProject(dir: string): Project {
  const file = join(dir, "parity.json");
  if (!existsSync(file)) {
    return {
      name: basename(dir),
      dir,
      runs: [{ name: "adhoc", kilnArgs: [], pytestArgs: [], exitCode: undefined, textExempt: {} }],
      hasParityFile: false,
      requires: [],
    };
  }
  const text = readFileSync(file, "utf8");
  return {
    name: basename(dir),
    dir,
    runs: parseParityFile(text, file),
    hasParityFile: true,
    requires: parseRequires(text, file),
  };
}

export function parseRequires(text: string, where = "parity.json"): string[] {
  const data: unknown = JSON.parse(text);
  if (!isRecord(data) || data.requires === undefined) return [];
  const { requires } = data;
  if (!isStringArray(requires) || !requires.every((m) => /^[A-Za-z_][\w.]*$/.test(m))) {
    throw new Error(`${where}: requires must be an array of module names`);
  }
  return requires;
}

export function parseParityFile(text: string, where = "parity.json"): ParityRun[] {
  const data: unknown = JSON.parse(text);
  if (!isRecord(data) || !Array.isArray(data.runs)) {
    throw new Error(`${where}: expected {"runs": [...]}`);
  }
  const names = new Set<string>();
  return data.runs.map((run: unknown, index: number): ParityRun => {
    const at = `${where}: runs[${index}]`;
    if (!isRecord(run)) throw new Error(`${at} is not an object`);
    const {
      name,
      kiln_args: kilnArgs,
      pytest_args: pytestArgs,
      exit_code: exitCode,
      text_exempt: textExempt = {},
    } = run;
    if (typeof name !== "string" || !/^[\w.-]+$/.test(name)) {
      throw new Error(`${at}: name must be a non-empty word ([A-Za-z0-9_.-])`);
    }
    if (names.has(name)) throw new Error(`${at}: duplicate run name ${name}`);
    names.add(name);
    if (!isStringArray(kilnArgs)) throw new Error(`${at}: kiln_args must be an array of strings`);
    if (!isStringArray(pytestArgs))
      throw new Error(`${at}: pytest_args must be an array of strings`);
    if (typeof exitCode !== "number" || !Number.isInteger(exitCode)) {
      throw new Error(`${at}: exit_code must be an integer`);
    }
    if (
      !isRecord(textExempt) ||
      !Object.values(textExempt).every((why) => typeof why === "string" && why !== "")
    ) {
      throw new Error(`${at}: text_exempt must map node ids to a reason`);
    }
    return {
      name,
      kilnArgs,
      pytestArgs,
      exitCode,
      textExempt: textExempt as Record<string, string>,
    };
  });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
