#!/usr/bin/env node
// The `kiln` executable. Its only static import is tiny, so SIGINT and SIGTERM
// are caught from the first moment Kiln's code runs: loading the rest of the
// CLI (commander, better-sqlite3, the reports) takes tens of milliseconds, and
// a signal then would otherwise take Node's default action and be lost to the
// run (issue 9). What runs before this line is Node's own start-up.
import { existsSync } from "node:fs";
import { catchSignals } from "./signals.js";

catchSignals();
// KILN_DEBUG=1 traces Kiln's steps on stderr; this one marks where a signal
// stops being Node's default action (the signal tests start from here).
if (process.env.KILN_DEBUG) process.stderr.write("kiln: debug: signals are caught\n");
// `kiln test` starts Python now, so that pytest's import overlaps the loading
// of the rest of the CLI (early-zygote.ts). Commander allows only --version
// and help before a subcommand, so argv[2] names it.
if (process.argv[2] === "test") {
  // Node sets up its stdout and stderr (a pipe's file description may have
  // O_NONBLOCK set and cleared) the first time they are used. The zygote
  // shares those descriptions: done after it starts, Node can leave them
  // non-blocking under it, and a Python write to a full pipe then fails
  // with EAGAIN (a 20 MB failure text cut at ~220 KB). Set them up first,
  // as the CLI always did before it spawned the zygote.
  void process.stdout.fd;
  void process.stderr.fd;
  const { startEarlyZygote, flagValue } = await import("./early-zygote.js");
  startEarlyZygote(process.argv.slice(3));
  // --queue: the coordinator's queue thread too (early-queue.ts).
  if (flagValue(process.argv.slice(3), "--queue") !== undefined) {
    const { startEarlyQueue } = await import("./early-queue.js");
    startEarlyQueue(process.argv.slice(3));
  }
}
// The rest of the CLI: the bundle `npm run build` makes of program.js
// (scripts/bundle-cli.mjs: ~45 ms less module loading), or tsc's program.js
// itself when there is no bundle (a bare `tsc` leaves an existing bundle
// stale: build with `npm run build`, which makes both).
const bundle = new URL("./program.bundle.js", import.meta.url);
await import(existsSync(bundle) ? bundle.href : "./program.js");
