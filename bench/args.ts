// Command-line flags of `npm run bench -- [suite ...] [--rounds N] [--quick] [--python PATH]`.

export interface BenchArgs {
  suites: string[];
  /** Counted rounds; undefined means each suite's own default. */
  rounds: number | undefined;
  quick: boolean;
  python: string | undefined;
  help: boolean;
}

export class ArgsError extends Error {}

export const USAGE = `usage: npm run bench -- [suite ...] [--rounds N] [--quick] [--python PATH]

  suite        one or more of the suite names below (default: all)
  --rounds N   counted rounds per command, after one untimed warm-up (default: per suite)
  --quick      tiny suites, one round, no warm-up: checks every command works, times nothing
  --python     interpreter with pytest, pytest-xdist, pytest-forked (default /usr/bin/python3)
`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = {
    suites: [],
    rounds: undefined,
    quick: false,
    python: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new ArgsError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--quick") out.quick = true;
    else if (arg === "--help" || arg === "-h") out.help = true;
    else if (arg === "--python") out.python = value();
    else if (arg === "--rounds") {
      const raw = value();
      if (!/^[1-9]\d*$/.test(raw)) throw new ArgsError(`--rounds expects a positive integer`);
      out.rounds = Number.parseInt(raw, 10);
    } else if (arg.startsWith("-")) throw new ArgsError(`unknown option ${arg}`);
    else out.suites.push(arg);
  }
  return out;
}
