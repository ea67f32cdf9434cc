// The commands every suite is timed with: plain pytest, its two usual
// parallel/isolating plugins, and Kiln with one and two workers. All run
// quietly (-q) without pytest's cache plugin, so no run depends on the last.
import { KILN_CLI } from "./paths.js";

export interface BenchCommand {
  /** Shown in the tables, and the key of the ratio columns. */
  label: string;
  argv(python: string): string[];
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
}

const KILN_ROLES = ["node supervisor", "zygote", "worker (fork)"];

const PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-q"];

export const COMMANDS: readonly BenchCommand[] = [
  {
    label: "pytest",
    argv: (python) => [python, ...PYTEST],
    requires: undefined,
    roles: ["pytest"],
    firstRunLimitS: undefined,
  },
  {
    label: "pytest -n 2",
    argv: (python) => [python, ...PYTEST, "-n", "2"],
    requires: "xdist",
    roles: ["controller", "worker (execnet)"],
    firstRunLimitS: undefined,
  },
  {
    label: "pytest --forked",
    argv: (python) => [python, ...PYTEST, "--forked"],
    requires: "pytest_forked",
    roles: ["pytest", "per-test fork"],
    firstRunLimitS: 30,
  },
  {
    label: "kiln -n 1",
    argv: (python) => kiln(python, "1"),
    requires: undefined,
    roles: KILN_ROLES,
    firstRunLimitS: undefined,
  },
  {
    label: "kiln -n 2",
    argv: (python) => kiln(python, "2"),
    requires: undefined,
    roles: KILN_ROLES,
    firstRunLimitS: undefined,
  },
];

function kiln(python: string, workers: string): string[] {
  return [
    process.execPath,
    KILN_CLI,
    "test",
    "--python",
    python,
    "-n",
    workers,
    "-q",
    "-p",
    "no:cacheprovider",
  ];
}
