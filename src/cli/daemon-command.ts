// `kiln daemon start|stop|status`: the project's daemon (DESIGN.md section 7),
// which holds level 0 of the zygote tree warm for `kiln test`. The project is
// pytest's rootdir worked out from the current directory, as for `kiln cache`.
import type { Command } from "commander";
import { KilnConfigError } from "../config/pyproject-kiln.js";
import { pytestRootdir } from "../config/rootdir.js";
import { idleMinutesFromPyproject, idleSeconds } from "../daemon/daemon-config.js";
import { DaemonConnection } from "../daemon/daemon-connection.js";
import {
  type DaemonInfo,
  pidAlive,
  readDaemonInfo,
  removeStaleInfo,
} from "../daemon/daemon-info.js";
import { startDaemon } from "../daemon/daemon-start.js";
import { ExitCode } from "../protocol/exit-codes.js";
import type { DaemonToClient } from "../protocol/messages.js";
import { chooseInterpreter } from "./interpreter-choice.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export function registerDaemonCommand(program: Command): void {
  const daemon = program
    .command("daemon")
    .description("a per-project daemon keeping Python, pytest and your dependencies imported");
  daemon
    .command("start")
    .description("start it (or say that it runs) for the project of the current directory")
    .option("--python <path>", "the interpreter (as for kiln test)")
    .option("--idle <minutes>", "stop after this long without a run (default: 30; 0: never)")
    .action(async (raw: { python?: string; idle?: string }) => {
      process.exitCode = await start(raw);
    });
  daemon
    .command("stop")
    .description("stop it (and any run zygote it forked); nothing is left running")
    .action(async () => {
      process.exitCode = await stop();
    });
  daemon
    .command("status")
    .description("pid, socket, interpreter, uptime, memory per level, runs served (exit 1: none)")
    .action(async () => {
      process.exitCode = await status();
    });
}

function project(): string {
  return pytestRootdir({ cwd: process.cwd(), args: [], env: process.env });
}

async function start(raw: { python?: string; idle?: string }): Promise<number> {
  const cwd = process.cwd();
  const rootdir = project();
  let idle: number | string;
  try {
    idle =
      raw.idle !== undefined
        ? idleSeconds(raw.idle, "--idle")
        : idleSeconds(idleMinutesFromPyproject(rootdir), "[tool.kiln] daemon-idle-minutes");
  } catch (error) {
    if (!(error instanceof KilnConfigError)) throw error;
    idle = error.message;
  }
  if (typeof idle === "string") {
    err(`kiln: error: ${idle}`);
    return ExitCode.USAGE_ERROR;
  }
  const interpreter = chooseInterpreter(raw.python, cwd);
  if (!interpreter.ok) {
    err(`kiln: error: ${interpreter.message}`);
    return ExitCode.USAGE_ERROR;
  }
  const running = await ask(rootdir, "daemon:status");
  if (running.answer?.type === "daemon:status") {
    if (running.answer.python === interpreter.path) {
      out(`kiln: the daemon for ${rootdir} already runs (pid ${running.answer.pid})`);
      return ExitCode.OK;
    }
    out(`kiln: replacing the daemon for ${running.answer.python} (pid ${running.answer.pid})`);
    await stopRunning(running.info as DaemonInfo);
  }
  const started = await startDaemon({
    rootdir,
    cwd,
    python: interpreter.path,
    env: process.env,
    idleSeconds: idle,
  });
  if (!started.ok) {
    err(`kiln: error: the daemon did not start: ${started.error}`);
    return ExitCode.INTERNAL_ERROR;
  }
  const idleText = idle === 0 ? "never idles out" : `stops after ${formatSeconds(idle)} idle`;
  out(
    `kiln: daemon started for ${rootdir} (pid ${started.pid}, ${interpreter.path}, ` +
      `${started.preloaded} modules preloaded, ${idleText})`,
  );
  for (const [name, reason] of started.excluded)
    out(`kiln: left out of level 0: ${name}: ${reason}`);
  return ExitCode.OK;
}

async function stop(): Promise<number> {
  const rootdir = project();
  const info = readDaemonInfo(rootdir);
  if (info === undefined) {
    out(`kiln: no daemon runs for ${rootdir}`);
    return ExitCode.OK;
  }
  await stopRunning(info);
  removeStaleInfo(rootdir, info);
  out(`kiln: daemon stopped (pid ${info.pid})`);
  return ExitCode.OK;
}

/** Asks it to stop, waits until its process is gone, SIGKILLs it after 5 s. */
async function stopRunning(info: DaemonInfo): Promise<void> {
  try {
    const connection = await DaemonConnection.open(info.socket);
    connection.send({ type: "daemon:stop" });
    const timer = setTimeout(() => connection.close(), 5_000);
    await connection.next();
    clearTimeout(timer);
    connection.close();
  } catch {
    // Unreachable: ended by signal below.
  }
  const deadline = Date.now() + 5000;
  while (pidAlive(info.pid) && Date.now() < deadline) await sleep(20);
  if (pidAlive(info.pid)) {
    try {
      process.kill(info.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

async function status(): Promise<number> {
  const rootdir = project();
  const { answer, error } = await ask(rootdir, "daemon:status");
  if (answer?.type !== "daemon:status") {
    out(`kiln: no daemon runs for ${rootdir}${error ? ` (${error})` : ""}`);
    return 1;
  }
  const now = Date.now();
  out(`daemon      pid ${answer.pid}, up ${formatSeconds((now - answer.startedAt) / 1000)}`);
  out(`project     ${answer.rootdir}`);
  out(`socket      ${answer.socket}`);
  out(`python      ${answer.python} (Python ${answer.pythonVersion}, pytest ${answer.pytest})`);
  out(`fingerprint ${answer.fingerprint} (interpreter and installed packages)`);
  for (const level of answer.levels) {
    const held =
      level.level === 0
        ? `warm for ${formatSeconds((now - answer.warmSince) / 1000)}, ${answer.preloaded} modules preloaded`
        : `${answer.level1}, ${level.modules ?? 0} project modules held` +
          (level.buildMs === undefined
            ? ""
            : `, forked from level 0 in ${level.buildMs} ms (imports ${level.importMs ?? 0} ms)`);
    out(
      `level ${level.level}     pid ${level.pid}, RSS ${(level.rssKb / 1024).toFixed(1)} MiB, ${held}`,
    );
  }
  if (!answer.levels.some((level) => level.level === 1)) out(`level 1     ${answer.level1}`);
  for (const held of answer.held ?? []) {
    out(
      `collected   pid ${held.pid}, RSS ${(held.rssKb / 1024).toFixed(1)} MiB, ` +
        `${held.items} items configured and collected, held for a run with the same inputs`,
    );
  }
  for (const [name, reason] of answer.excluded) out(`left out    ${name}: ${reason}`);
  const idle = (now - answer.lastUsedAt) / 1000;
  out(
    `runs        ${answer.runsServed} served${answer.running.length ? `, running: ${answer.running.join(", ")}` : ""}; ` +
      `last used ${formatSeconds(idle)} ago; ` +
      (answer.idleSeconds > 0
        ? `stops after ${formatSeconds(answer.idleSeconds)} idle`
        : "never idles out"),
  );
  return ExitCode.OK;
}

async function ask(
  rootdir: string,
  type: "daemon:status",
): Promise<{ info?: DaemonInfo; answer?: DaemonToClient | null; error?: string }> {
  const info = readDaemonInfo(rootdir);
  if (info === undefined) return {};
  try {
    const connection = await DaemonConnection.open(info.socket);
    connection.send({ type });
    const timer = setTimeout(() => connection.close(), 5_000);
    const answer = await connection.next();
    clearTimeout(timer);
    connection.close();
    if (answer === null) return { info, error: "it did not answer in 5 s" };
    return { info, answer };
  } catch (error) {
    removeStaleInfo(rootdir, info);
    return {
      info,
      error: `stale daemon.json: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    };
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
