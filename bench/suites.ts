// The benchmark suites: what each is meant to show, and its size in a full
// and a --quick run. Sizes are tuned so a full `npm run bench` fits in
// 15 minutes on a 2-core machine.

import { STANDARD_LABELS } from "./commands.js";
import { digest, type ProjectFiles, writeProject } from "./generators/files.js";
import { FIXTURE_ITEMS_PER_FILE, type FixtureSize, fixtureProject } from "./generators/fixtures.js";
import {
  type GenProjectSize,
  genProject,
  genProjectDigest,
  genProjectItems,
} from "./generators/gen-project.js";
import { importAllTest } from "./generators/import-all.js";
import { type SlowSize, slowProject, slowTotalSeconds } from "./generators/slow.js";
import { type TrivialSize, trivialProject } from "./generators/trivial.js";
import type { PythonProbe } from "./python-probe.js";
import {
  copyPackage,
  REAL_REQUIREMENTS,
  REAL_SPECS,
  type RealSpec,
  realPython,
} from "./real-suites.js";

export interface SuiteBuild {
  /** One line under the suite's heading. */
  title: string;
  /** Everything the generated files depend on; a change regenerates the suite. */
  stamp: unknown;
  write(dir: string): void;
}

export interface Suite {
  name: string;
  /** What the suite is meant to show (for BENCHMARKS.md and --help). */
  about: string;
  /** Counted rounds when --rounds is not given. */
  rounds: number;
  /** Per-worker private memory is sampled only here (it adds /proc reads to every sample). */
  sampleWorkerMemory: boolean;
  /** The commands (commands.ts labels) it is timed with. */
  labels: readonly string[];
  /** Whether --quick runs it (real suites need their venv and take longer). */
  inQuick: boolean;
  /** Its interpreter when not the bench's --python; may set it up first, throws when it cannot. */
  interpreter: ((log: (line: string) => void) => string) | undefined;
  /** pytest arguments every command gets. */
  pytestArgs: readonly string[];
  build(quick: boolean, probe: PythonProbe): SuiteBuild;
}

const generatedSuite = {
  labels: STANDARD_LABELS,
  inQuick: true,
  interpreter: undefined,
  pytestArgs: [],
} as const;

function realSuite(spec: RealSpec): Suite {
  return {
    name: spec.name,
    about: spec.about,
    rounds: spec.rounds,
    sampleWorkerMemory: false,
    labels: ["pytest", "pytest -n 2", "kiln", "kiln -n 1", "kiln (daemon)"],
    inQuick: false,
    interpreter: realPython,
    pytestArgs: spec.pytestArgs,
    build: (_quick, probe) => ({
      title: `${spec.requirement.replace("==", " ")}: the tests its wheel ships, run on a copy of the package`,
      stamp: { requirements: REAL_REQUIREMENTS, spec, python: probe.python },
      write: (dir) => copyPackage(probe.python, spec.package, dir),
    }),
  };
}

// Standard-library modules that each take tens to hundreds of milliseconds to
// import on a cold interpreter; together with numpy about half a second here.
export const HEAVY_STDLIB = [
  "asyncio",
  "email.mime.multipart",
  "email.parser",
  "http.client",
  "http.server",
  "urllib.request",
  "decimal",
  "xml.etree.ElementTree",
  "xml.dom.minidom",
  "unittest.mock",
  "logging.handlers",
  "concurrent.futures",
  "multiprocessing",
  "sqlite3",
  "ssl",
  "tarfile",
  "zipfile",
];

const fmt = (n: number) => n.toLocaleString("en-US");

function generated(size: GenProjectSize, python: string, what: string): SuiteBuild {
  return {
    title: `${what}: ${fmt(size.pkgs * size.mods)} modules in ${size.pkgs} packages, ${fmt(size.tests)} test files, ${fmt(genProjectItems(size))} tests`,
    stamp: { generator: genProjectDigest(), size },
    write: (dir) => genProject(python, dir, size),
  };
}

/** A suite generated here: its stamp is the digest of its files. */
function ownFiles(files: ProjectFiles): Pick<SuiteBuild, "stamp" | "write"> {
  return { stamp: { files: digest(files) }, write: (dir) => writeProject(dir, files) };
}

/** gen_project.py plus one test file that imports every module of the project. */
function importingAll(size: GenProjectSize, python: string): SuiteBuild {
  const modules = size.pkgs * size.mods;
  const extra = importAllTest(size.pkgs, size.mods);
  return {
    title: `${fmt(modules)} modules in ${size.pkgs} packages, all imported at collection; ${fmt(size.tests + 1)} test files, ${fmt(genProjectItems(size) + 1)} tests`,
    stamp: { generator: genProjectDigest(), size, extra: digest(extra) },
    write: (dir) => {
      genProject(python, dir, size);
      writeProject(dir, extra);
    },
  };
}

export const SUITES: readonly Suite[] = [
  {
    name: "tiny",
    about: "start-up and nothing else: 10 one-line tests",
    rounds: 11,
    sampleWorkerMemory: false,
    ...generatedSuite,
    labels: ["pytest", "pytest -n 2", "kiln", "kiln -n 1", "kiln -n 2", "kiln (daemon)"],
    build() {
      const size: TrivialSize = { files: 2, testsPerFile: 5 };
      return {
        title: "10 one-line tests in 2 files",
        ...ownFiles(trivialProject(size)),
      };
    },
  },
  {
    name: "trivial",
    about: "per-test overhead: nothing to import, nothing to set up",
    rounds: 3,
    sampleWorkerMemory: false,
    ...generatedSuite,
    build(quick) {
      const size: TrivialSize = quick
        ? { files: 5, testsPerFile: 10 }
        : { files: 100, testsPerFile: 20 };
      return {
        title: `${fmt(size.files * size.testsPerFile)} one-line tests in ${size.files} files`,
        ...ownFiles(trivialProject(size)),
      };
    },
  },
  {
    name: "import-heavy",
    about: "the import tax: every test file imports costly modules, paid once per process",
    rounds: 5,
    sampleWorkerMemory: false,
    ...generatedSuite,
    // Issue 11's "small suites" row: hundreds of tests whose imports are
    // what a warm daemon keeps paid.
    labels: [...STANDARD_LABELS, "kiln (daemon)"],
    build(quick, probe) {
      const heavy = probe.modules.numpy !== undefined ? [...HEAVY_STDLIB, "numpy"] : HEAVY_STDLIB;
      const size: GenProjectSize = quick
        ? { pkgs: 2, mods: 3, tests: 4, cases: 4, heavy, seed: 1 }
        : { pkgs: 4, mods: 10, tests: 40, cases: 8, heavy, seed: 1 };
      return generated(size, probe.python, `${heavy.length} heavy imports per test file`);
    },
  },
  {
    name: "many-modules",
    about: "collection and import of a large project: 1,000 modules in nested packages",
    rounds: 3,
    sampleWorkerMemory: false,
    ...generatedSuite,
    build(quick, probe) {
      const size: GenProjectSize = quick
        ? { pkgs: 4, mods: 5, tests: 5, cases: 2, heavy: [], seed: 2 }
        : { pkgs: 20, mods: 50, tests: 50, cases: 4, heavy: [], seed: 2 };
      return importingAll(size, probe.python);
    },
  },
  {
    name: "fixture-heavy",
    about: "fixture set-up and teardown at every scope, parametrization, item reordering",
    rounds: 3,
    sampleWorkerMemory: false,
    ...generatedSuite,
    build(quick) {
      const size: FixtureSize = { files: quick ? 2 : 12 };
      return {
        title: `${fmt(size.files * FIXTURE_ITEMS_PER_FILE)} tests in ${size.files} files using session, module, class and function fixtures`,
        ...ownFiles(fixtureProject(size)),
      };
    },
  },
  {
    name: "slow-tests",
    about: "scheduling and parallelism: sleeping tests in files of unequal length",
    rounds: 5,
    sampleWorkerMemory: true,
    ...generatedSuite,
    build(quick) {
      const size: SlowSize = quick
        ? { files: 2, testsPerFile: 2, stepMs: 10 }
        : { files: 8, testsPerFile: 5, stepMs: 10 };
      return {
        title: `${size.files * size.testsPerFile} sleeping tests in ${size.files} files (file i sleeps (i+1)×${size.stepMs} ms per test; ${slowTotalSeconds(size).toFixed(1)} s of sleep in all)`,
        ...ownFiles(slowProject(size)),
      };
    },
  },
];

// After the generated suites: selected by name, or all at once as "real".
export const REAL_SUITES: readonly Suite[] = REAL_SPECS.map(realSuite);

export const ALL_SUITES: readonly Suite[] = [...SUITES, ...REAL_SUITES];

export function findSuite(name: string): Suite | undefined {
  return ALL_SUITES.find((suite) => suite.name === name);
}
