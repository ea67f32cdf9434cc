// The commands the suites are timed with: plain pytest, its two usual
// parallel/isolating plugins, and Kiln with its default worker count, one and
// two workers. All run quietly (-q) without pytest's cache plugin, so no run
// depends on the last. A suite picks which of them it runs (suites.ts) and may
// add pytest arguments of its own (a real suite's --ignore).
import { KILN_CLI } from "./paths.js";

export interface BenchCommand {
  /** Shown in the tables, and the key of the ratio columns. */
  label: string;
  /** `extra`: the suite's own pytest arguments, after the command's. */
  argv(python: string, extra?: readonly string[]): string[];
  /** A Python module the command needs; without it the command is left out. */
  requires: string | undefined;
  /** What its processes are, by depth below the command (0: the command itself). */
  roles: readonly string[];
  /**
   * pytest-forked forks once per test (30-80 ms each on the 2-core machine),
   * so on big suites it takes minutes: if its first run takes longer than
   * this it is stopped and not timed. 30 s rather than a minute keeps the
   * full bench within 15 minutes even on a loaded machine (2,000 trivial
   * tests take it 23-49 s on a lightly loaded one, 65 s on a busy one).
   */
  firstRunLimitS: number | undefined;
  /** Kiln writes a run record (.kiln/runs/latest/) the bench reads after each run. */
  kiln: boolean;
  /** Runs through `kiln daemon`, started before its first run (daemon.ts). */
  daemon?: boolean;
}

const KILN_ROLES = ["node supervisor", "zygote", "worker (fork)"];

const PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-q"];

const pytest =
  (...flags: string[]) =>
  (python: string, extra: readonly string[] = []) => [python, ...PYTEST, ...flags, ...extra];

export const COMMANDS: readonly BenchCommand[] = [
  {
    label: "pytest",
    argv: pytest(),
    requires: undefined,
    roles: ["pytest"],
    firstRunLimitS: undefined,
    kiln: false,
  },
  {
    label: "pytest -n 2",
    argv: pytest("-n", "2"),
    requires: "xdist",
    roles: ["controller", "worker (execnet)"],
    firstRunLimitS: undefined,
    kiln: false,
  },
  {
    label: "pytest --forked",
    argv: pytest("--forked"),
    requires: "pytest_forked",
    roles: ["pytest", "per-test fork"],
    firstRunLimitS: 30,
    kiln: false,
  },
  {
    // What a user types: no -n, so Kiln picks the worker count itself.
    label: "kiln",
    argv: (python, extra = []) => [...kiln(python), ...extra],
    requires: undefined,
    roles: KILN_ROLES,
    firstRunLimitS: undefined,
    kiln: true,
  },
  {
    label: "kiln -n 1",
    argv: (python, extra = []) => [...kiln(python, "1"), ...extra],
    requires: undefined,
    roles: KILN_ROLES,
    firstRunLimitS: undefined,
    kiln: true,
  },
  {
    label: "kiln -n 2",
    argv: (python, extra = []) => [...kiln(python, "2"), ...extra],
    requires: undefined,
    roles: KILN_ROLES,
    firstRunLimitS: undefined,
    kiln: true,
  },
  {
    // `kiln` with its zygote forked from a warm daemon's level 0.
    label: "kiln (daemon)",
    argv: (python, extra = []) => [...kiln(python, undefined, true), ...extra],
    requires: undefined,
    roles: ["node supervisor", "zygote (fork of level 0)", "worker (fork)"],
    firstRunLimitS: undefined,
    kiln: true,
    daemon: true,
  },
];

function kiln(python: string, workers?: string, daemon = false): string[] {
  const n = workers === undefined ? [] : ["-n", workers];
  return [
    process.execPath,
    KILN_CLI,
    "test",
    "--python",
    python,
    ...n,
    // The daemon runs during the whole suite; the other Kiln commands stay cold.
    ...(daemon ? [] : ["--no-daemon"]),
    "-q",
    "-p",
    "no:cacheprovider",
  ];
}

/** The labels every generated suite runs (the default-worker `kiln` only where a suite asks). */
export const STANDARD_LABELS: readonly string[] = [
  "pytest",
  "pytest -n 2",
  "pytest --forked",
  "kiln -n 1",
  "kiln -n 2",
];
