// The `kiln` command: one file per subcommand, wired here (main.ts loads it).
import { Command, CommanderError } from "commander";
import { ExitCode } from "../protocol/exit-codes.js";
import { restoreDefaultSignals } from "./signals.js";
import { KILN_VERSION } from "./version.js";

// `kiln doctor | head`: the reader left. As a command-line tool should (and
// as Python does for SIGPIPE by default), stop quietly instead of throwing.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = new Command();
program
  .name("kiln")
  .description("Run pytest suites from a warm zygote: import and collect once, fork workers.")
  .version(KILN_VERSION, "--version")
  .enablePositionalOptions()
  // commander exits 1 on a flag missing its value or an unknown command;
  // Kiln's usage errors exit 4 like pytest's ExitCode.USAGE_ERROR. Set before
  // the subcommands are added, which inherit it.
  .exitOverride();
// Only `kiln test`, `kiln watch` and `kiln agent` wind down on a signal (they take them in
// runTests and runWatchSession); the others get Node's default behaviour back
// before they start.
program.hook("preAction", (_root, command) => {
  if (!["test", "watch", "agent"].includes(command.name())) restoreDefaultSignals();
});
// Each command's module, in the order help lists them. Only the command
// being run is loaded (commander takes only --version and help before a
// subcommand, so argv[2] names it): `kiln test` skips the other commands'
// ~10 ms of module loading at start-up (issue 16). Help, and a name that is
// no command, get them all.
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  test: async () => (await import("./test-command.js")).registerTestCommand,
  agent: async () => (await import("./agent-command.js")).registerAgentCommand,
  doctor: async () => (await import("./doctor-command.js")).registerDoctorCommand,
  check: async () => (await import("./check-command.js")).registerCheckCommand,
  cache: async () => (await import("./cache-command.js")).registerCacheCommand,
  report: async () => (await import("./report-command.js")).registerReportCommand,
  why: async () => (await import("./why-command.js")).registerWhyCommand,
  watch: async () => (await import("./watch-command.js")).registerWatchCommand,
  serve: async () => (await import("./serve-command.js")).registerServeCommand,
  exec: async () => (await import("./exec-command.js")).registerExecCommand,
  workspace: async () => (await import("./workspace-command.js")).registerWorkspaceCommand,
  daemon: async () => (await import("./daemon-command.js")).registerDaemonCommand,
};
const named = process.argv[2];
const load = named !== undefined && Object.hasOwn(COMMANDS, named) ? COMMANDS[named] : undefined;
for (const register of await Promise.all(load ? [load()] : Object.values(COMMANDS).map((l) => l())))
  register(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // commander already printed the message (or the help/version text).
    process.exitCode = error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE_ERROR;
    return;
  }
  process.stderr.write(
    `kiln: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = ExitCode.INTERNAL_ERROR;
});
