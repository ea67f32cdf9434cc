#!/usr/bin/env node
// The `kiln` command: one file per subcommand, wired here.
import { Command } from "commander";
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
  .enablePositionalOptions();
registerTestCommand(program);
registerDoctorCommand(program);
registerCheckCommand(program);
registerCacheCommand(program);
registerReportCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(
    `kiln: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = 3;
});
