// Command-line flags of `npm run bench -- [suite ...] [--rounds N] [--quick] [--python PATH]`.
import { Command, CommanderError } from "commander";

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
  const command = new Command()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .helpOption(false)
    .argument("[suites...]")
    .option("--rounds <n>", "", (raw: string) => {
      if (!/^[1-9]\d*$/.test(raw)) throw new ArgsError("--rounds expects a positive integer");
      return Number.parseInt(raw, 10);
    })
    .option("--quick")
    .option("--python <path>")
    .option("-h, --help");
  try {
    command.parse(argv, { from: "user" });
  } catch (error) {
    // commander's own messages ("error: unknown option '--bogus'"), minus the prefix.
    if (error instanceof CommanderError) throw new ArgsError(error.message.replace(/^error: /, ""));
    throw error;
  }
  const flags = command.opts<{
    rounds?: number;
    quick?: boolean;
    python?: string;
    help?: boolean;
  }>();
  return {
    suites: [...command.args],
    rounds: flags.rounds,
    quick: flags.quick === true,
    python: flags.python,
    help: flags.help === true,
  };
}
