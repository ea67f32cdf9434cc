#!/usr/bin/env node
// The `kiln` command: one file per subcommand, wired here.
import { Command, CommanderError } from "commander";
import { ExitCode } from "../protocol/exit-codes.js";
import { registerCacheCommand } from "./cache-command.js";
import { registerCheckCommand } from "./check-command.js";
import { registerDoctorCommand } from "./doctor-command.js";
import { registerReportCommand } from "./report-command.js";
import { registerTestCommand } from "./test-command.js";
import { KILN_VERSION } from "./version.js";

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
registerTestCommand(program);
registerDoctorCommand(program);
registerCheckCommand(program);
registerCacheCommand(program);
registerReportCommand(program);

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
