// Real open-source test suites: the tests these projects ship inside their
// wheels, as scripts/real-suites.sh runs them for parity. The bench installs
// pinned versions with pip (which here reads only the machine's local package
// mirror) into a venv of its own, bench/suites/.real-venv (git-ignored; made
// once, remade when the pins change), and copies each package into
// bench/suites/<name>/ so the copy is what pytest and Kiln's registry import,
// as a project's own code. KILN_BENCH_REAL_PYTHON names another interpreter
// with the same packages (and pytest-xdist) instead.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { benchEnv } from "./env.js";
import { SUITES_DIR } from "./paths.js";

// pytest 9 as a current project would use it; the package versions are the
// ones the parity run used (/work/venvs/real9), so figures stay comparable.
export const REAL_REQUIREMENTS: readonly string[] = [
  "pytest==9.1.1",
  "pytest-xdist==3.8.0",
  "toolz==1.1.0",
  "simplejson==4.1.2",
  "pyflakes==4.0.0",
  "jsonschema==4.25.1",
  // jsonschema's test_exceptions imports it.
  "jsonpath-ng==1.8.0",
];

// The venv is made from Debian's interpreter, the bench's default one.
const BASE_PYTHON = "/usr/bin/python3";
const VENV = join(SUITES_DIR, ".real-venv");
const STAMP = join(VENV, ".bench-requirements.json");

let cached: string | undefined;

/** The interpreter of the real suites, making the venv first if needed. Throws when it cannot. */
export function realPython(log: (line: string) => void): string {
  const chosen = process.env.KILN_BENCH_REAL_PYTHON;
  if (chosen) return chosen;
  if (cached !== undefined) return cached;
  const python = join(VENV, "bin/python");
  const stamp = JSON.stringify({ base: BASE_PYTHON, requirements: REAL_REQUIREMENTS });
  if (!existsSync(STAMP) || readFileSync(STAMP, "utf8") !== stamp) {
    log(`making ${VENV} (pip, from the local package mirror)`);
    rmSync(VENV, { recursive: true, force: true });
    const run = (file: string, args: string[]) => {
      const result = spawnSync(file, args, {
        encoding: "utf8",
        // No retries: an unreachable index fails at once instead of hanging.
        env: { ...benchEnv(), PIP_RETRIES: "0", PIP_DEFAULT_TIMEOUT: "5" },
      });
      if (result.status !== 0) {
        const why = result.error?.message ?? `${result.stdout}${result.stderr}`.trim().slice(-800);
        throw new Error(`${basename(file)} ${args.slice(0, 2).join(" ")} failed: ${why}`);
      }
    };
    run(BASE_PYTHON, ["-m", "venv", VENV]);
    run(join(VENV, "bin/pip"), [
      "install",
      "-q",
      "--disable-pip-version-check",
      ...REAL_REQUIREMENTS,
    ]);
    writeFileSync(STAMP, stamp);
  }
  cached = python;
  return python;
}

/** Where `python` imports package `name` from. */
function packageDir(python: string, name: string): string {
  const script = `import importlib.util as u; print(list(u.find_spec(${JSON.stringify(name)}).submodule_search_locations)[0])`;
  const result = spawnSync(python, ["-c", script], { encoding: "utf8", env: benchEnv() });
  const dir = result.stdout.trim();
  if (result.status !== 0 || dir === "") {
    throw new Error(`${python} cannot import ${name}: ${result.stderr.trim().slice(-400)}`);
  }
  return dir;
}

/** Copies the installed package into `dir`, without bytecode (a checkout has its own). */
export function copyPackage(python: string, name: string, dir: string): void {
  const from = packageDir(python, name);
  cpSync(from, join(dir, name), {
    recursive: true,
    filter: (source) => basename(source) !== "__pycache__",
  });
  // The rootdir pytest and Kiln agree on, and nothing else in it.
  writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
}

export interface RealSpec {
  name: string;
  /** The import name, copied into the suite. */
  package: string;
  /** The pinned requirement it comes from. */
  requirement: string;
  about: string;
  rounds: number;
  /** Passed to every command: tests that need what a wheel does not ship. */
  pytestArgs: readonly string[];
  /**
   * One of issue 16's "small real suites (16–280 tests, under a second in
   * pytest)": by its size, not by a timing, which a loaded machine stretches.
   */
  small: boolean;
}

export const REAL_SPECS: readonly RealSpec[] = [
  {
    name: "real-toolz",
    package: "toolz",
    requirement: "toolz==1.1.0",
    about: "small real suite: pure-Python functional utilities, 186 quick tests",
    rounds: 7,
    pytestArgs: [],
    small: true,
  },
  {
    name: "real-simplejson",
    package: "simplejson",
    requirement: "simplejson==4.1.2",
    about: "small real suite with a C extension: 227 tests, 30 skipped",
    rounds: 7,
    pytestArgs: [],
    small: true,
  },
  {
    name: "real-pyflakes",
    package: "pyflakes",
    requirement: "pyflakes==4.0.0",
    about: "medium real suite: 791 tests that each parse and check a snippet",
    rounds: 5,
    pytestArgs: [],
    small: false,
  },
  {
    name: "real-jsonschema",
    package: "jsonschema",
    requirement: "jsonschema==4.25.1",
    about:
      "import-heavy real suite: ~90 ms of imports (referencing, rpds, attrs, jsonpath-ng) before its 484 tests",
    rounds: 5,
    // It reads the JSON-Schema-Test-Suite checkout, which the wheel does not ship.
    pytestArgs: ["--ignore=jsonschema/tests/test_jsonschema_test_suite.py"],
    small: false,
  },
];
