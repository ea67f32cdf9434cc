// `kiln serve`: the exec service (issue 13; src/server/serve.ts).
import type { Command } from "commander";
import { KilnConfigError } from "../config/pyproject-kiln.js";
import { ExecZygoteError, PROFILES, type Profile } from "../pool/exec-zygote.js";
import { chooseRuntime, RuntimeUsageError } from "../pool/runtime-choice.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { SnapshotError } from "../pyodide/snapshot.js";
import { WheelError } from "../pyodide/wheels.js";
import { ServeUsageError, serve } from "../server/serve.js";

const int = (flag: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ServeUsageError(`${flag} ${value}: want an integer >= ${min}`);
  return n;
};

/** A repeatable option's values, in order (commander's documented pattern). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parseProfiles(value: string): Profile[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(PROFILES as readonly string[]).includes(name)) {
      throw new ServeUsageError(`--profile ${name}: one of ${PROFILES.join(", ")}`);
    }
  }
  if (names.length === 0) throw new ServeUsageError("--profile names no profile");
  return names as Profile[];
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run code from warm sandboxed pools behind an HTTP API (POST /v1/exec)")
    .option("--host <host>", "address to listen on (default 127.0.0.1; others need --token-file)")
    .option("--port <n>", "port (0 picks a free one)", "8737")
    .option("--token-file <path>", "bearer tokens, one per line (also: KILN_SERVE_TOKENS)")
    .option(
      "--store <store>",
      "workspace store: sqlite (.kiln/workspaces.sqlite) or redis://host:port",
    )
    .option("--profile <list>", "isolation profiles to serve, the first is the default", "strict")
    .option("--python <path>", "the interpreter (default: KILN_PYTHON, else python3)")
    .option("--preload <modules>", "modules each pool's zygote imports once (comma-separated)", "")
    .option(
      "--wheel <path>",
      "pyodide: a pure-Python wheel to load into the snapshot (repeatable; also [tool.kiln.exec] wheels)",
      collect,
      [],
    )
    .option("--pool-floor <n>", "fewest idle workers per profile", "2")
    .option("--pool-ceiling <n>", "most workers per profile", "32")
    .option("--concurrency <n>", "requests running at once", "16")
    .option("--queue <n>", "requests waiting past that before 429", "64")
    .option("--body-limit <bytes>", "largest request body (413 past it)", String(1024 * 1024))
    .option(
      "--output-cap <bytes>",
      "stdout+stderr kept per request (the rest is dropped, flagged)",
      String(1024 * 1024),
    )
    .option(
      "--runtime <runtime>",
      "native (sandboxed processes) or pyodide (Wasm); default native where strict applies",
    )
    .option("--drain-ms <ms>", "how long SIGTERM waits for requests in flight", "10000")
    .action(async (raw: Record<string, string | undefined> & { wheel?: string[] }) => {
      try {
        const ceiling = int("--pool-ceiling", 1)(raw.poolCeiling ?? "32");
        const choice = chooseRuntime(raw.runtime);
        if (choice.note) process.stdout.write(`${choice.note}\n`);
        const code = await serve(
          {
            host: raw.host,
            port: int("--port", 0)(raw.port ?? "8737"),
            tokenFile: raw.tokenFile,
            store: raw.store,
            profiles: parseProfiles(raw.profile ?? "strict"),
            python: raw.python ?? process.env.KILN_PYTHON ?? "python3",
            preload: (raw.preload ?? "")
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean),
            wheels: raw.wheel ?? [],
            poolFloor: Math.min(int("--pool-floor", 0)(raw.poolFloor ?? "2"), ceiling),
            poolCeiling: ceiling,
            concurrency: int("--concurrency", 1)(raw.concurrency ?? "16"),
            queue: int("--queue", 0)(raw.queue ?? "64"),
            bodyLimit: int("--body-limit", 1024)(raw.bodyLimit ?? "1048576"),
            outputCap: int("--output-cap", 1)(raw.outputCap ?? "1048576"),
            drainMs: int("--drain-ms", 0)(raw.drainMs ?? "10000"),
            runtime: choice.runtime,
          },
          (line) => process.stdout.write(`${line}\n`),
        );
        // Drained and stopped: whatever handle is still open (a client that
        // keeps its connection) must not keep the process alive.
        process.exit(code);
      } catch (error) {
        process.stderr.write(
          `kiln: error: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        const usage =
          error instanceof ServeUsageError ||
          error instanceof ExecZygoteError ||
          error instanceof RuntimeUsageError ||
          error instanceof SnapshotError ||
          error instanceof WheelError ||
          error instanceof KilnConfigError;
        process.exitCode = usage ? ExitCode.USAGE_ERROR : ExitCode.INTERNAL_ERROR;
      }
    });
}
