// `kiln exec FILE | -c CODE`: run code the way the exec service does. With
// --server (or KILN_SERVER) through its streaming API, token from KILN_TOKEN;
// without, one-shot in a local pool of the same profile. stdout and stderr
// are printed as they come; the exit status is the code's.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { KilnConfigError } from "../config/pyproject-kiln.js";
import { ExecZygoteError, type Profile } from "../pool/exec-zygote.js";
import { type ExecError, execute } from "../pool/execute.js";
import { startPools } from "../pool/pools.js";
import { chooseRuntime, RuntimeUsageError } from "../pool/runtime-choice.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { SnapshotError } from "../pyodide/snapshot.js";
import { WheelError } from "../pyodide/wheels.js";
import { LIMITS } from "../server/exec-request.js";
import { WorkspaceError, WorkspaceLoader } from "../workspace/loader.js";
import { WorkspaceStore } from "../workspace/store.js";
import { collect, parseProfiles } from "./serve-command.js";

interface ExecFlags {
  c?: string;
  workspace?: string;
  server?: string;
  profile?: string;
  store?: string;
  python?: string;
  timeoutMs?: string;
  stdinFile?: string;
  runtime?: string;
  wheel?: string[];
}

class ExecUsageError extends Error {}

export function registerExecCommand(program: Command): void {
  program
    .command("exec")
    .description("run a Python file or -c CODE as the exec service does (locally, or on --server)")
    .argument("[file]", "the Python file to run (as __main__)")
    .option("-c <code>", "the code to run")
    .option("--workspace <name>", "import that workspace's modules")
    .option("--server <url>", "a kiln serve to run on (default: KILN_SERVER; none: run locally)")
    .option("--profile <profile>", "isolation profile", "strict")
    .option("--store <store>", "locally: the workspace store (sqlite or redis://host:port)")
    .option("--python <path>", "locally: the interpreter (default: KILN_PYTHON, else python3)")
    .option(
      "--runtime <runtime>",
      "locally: native or pyodide (default native where strict applies; a server uses its own)",
    )
    .option(
      "--wheel <path>",
      "locally, pyodide: a pure-Python wheel to load (repeatable; also [tool.kiln.exec] wheels)",
      collect,
      [],
    )
    .option("--timeout-ms <ms>", "time limit", String(LIMITS.defaultTimeoutMs))
    .option(
      "--stdin-file <path>",
      "what the code reads on stdin (- for kiln's own stdin; default: nothing)",
    )
    .action(async (file: string | undefined, flags: ExecFlags) => {
      try {
        process.exitCode = await runExec(file, flags);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        process.stderr.write(`kiln: error: ${message}\n`);
        const usage =
          error instanceof ExecUsageError ||
          error instanceof ExecZygoteError ||
          error instanceof RuntimeUsageError ||
          error instanceof SnapshotError ||
          error instanceof WheelError ||
          error instanceof KilnConfigError;
        process.exitCode = usage ? ExitCode.USAGE_ERROR : ExitCode.INTERNAL_ERROR;
      }
    });
}

function printError(error: ExecError): void {
  process.stderr.write(error.traceback || `${error.type}: ${error.message}\n`);
}

async function runExec(file: string | undefined, flags: ExecFlags): Promise<number> {
  if ((file === undefined) === (flags.c === undefined))
    throw new ExecUsageError("give a FILE or -c CODE (one of them)");
  let code: string;
  try {
    code = flags.c ?? readFileSync(file as string, "utf8");
  } catch (error) {
    throw new ExecUsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const profile = parseProfiles(flags.profile ?? "strict")[0] as Profile;
  const timeoutMs = Number(flags.timeoutMs ?? LIMITS.defaultTimeoutMs);
  const filename = file === undefined ? undefined : resolve(file);
  let stdin: string | undefined;
  if (flags.stdinFile !== undefined) {
    try {
      // The API takes stdin whole, with the request (as Judge0's does).
      stdin = readFileSync(flags.stdinFile === "-" ? 0 : flags.stdinFile, "utf8");
    } catch (error) {
      throw new ExecUsageError(`--stdin-file ${flags.stdinFile}: ${(error as Error).message}`);
    }
  }
  const server = flags.server ?? process.env.KILN_SERVER;
  if (server) {
    if (flags.wheel?.length) {
      throw new ExecUsageError(
        "--wheel runs locally only: a server loads its own wheels (kiln serve --wheel)",
      );
    }
    const body = {
      code,
      filename,
      stdin,
      profile,
      timeout_ms: timeoutMs,
      workspace: flags.workspace,
    };
    return remote(server, body);
  }
  return local({ code, filename, stdin }, profile, timeoutMs, flags);
}

async function remote(server: string, body: Record<string, unknown>): Promise<number> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/x-ndjson",
  };
  if (process.env.KILN_TOKEN) headers.Authorization = `Bearer ${process.env.KILN_TOKEN}`;
  const url = new URL("/v1/exec?stream=1", server);
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok || !response.body) {
    const text = await response.text();
    const why = `${url.origin} answered ${response.status}: ${text}`;
    // 4xx: the request (or its token) was refused; 5xx: the service failed.
    throw response.status < 500 ? new ExecUsageError(why) : new Error(why);
  }
  let pending = "";
  let exit = ExitCode.INTERNAL_ERROR as number;
  const decoder = new TextDecoder();
  const handle = (line: string) => {
    if (!line) return;
    const event = JSON.parse(line) as {
      type: string;
      text?: string;
      error?: ExecError;
      exit_code?: number | null;
      fault?: string;
    };
    if (event.type === "stdout") process.stdout.write(event.text ?? "");
    else if (event.type === "stderr") process.stderr.write(event.text ?? "");
    else if (event.type === "error" && event.error) printError(event.error);
    else if (event.type === "end") {
      if (event.fault) process.stderr.write(`kiln: error: the server failed: ${event.fault}\n`);
      exit = event.exit_code ?? ExitCode.INTERNAL_ERROR;
    }
  };
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) handle(line);
  }
  handle(pending);
  return exit;
}

async function local(
  job: { code: string; filename: string | undefined; stdin: string | undefined },
  profile: Profile,
  timeoutMs: number,
  flags: ExecFlags,
): Promise<number> {
  let workspace: Awaited<ReturnType<WorkspaceLoader["load"]>> | undefined;
  if (flags.workspace !== undefined) {
    const store = await WorkspaceStore.open(flags.store, process.cwd());
    try {
      workspace = await new WorkspaceLoader(store).load(flags.workspace);
    } catch (error) {
      if (error instanceof WorkspaceError) {
        process.stderr.write(`WorkspaceError: ${error.message}\n`);
        return 1;
      }
      throw error;
    } finally {
      await store.close();
    }
  }
  const python = flags.python ?? process.env.KILN_PYTHON ?? "python3";
  const choice = chooseRuntime(flags.runtime);
  if (choice.note) process.stderr.write(`${choice.note}\n`);
  const set = await startPools({
    profiles: [profile],
    python,
    sizing: { floor: 0, ceiling: 1 },
    runtime: choice.runtime,
    wheels: flags.wheel ?? [],
  });
  try {
    const pool = set.pools.get(profile);
    if (!pool) throw new Error("this is a bug in kiln: no pool for the profile");
    const response = await execute(
      pool,
      {
        type: "exec:run",
        code: job.code,
        ...(job.filename === undefined ? {} : { filename: job.filename }),
        ...(job.stdin === undefined ? {} : { stdin: job.stdin }),
        memoryMb: LIMITS.defaultMemoryMb,
        ...(workspace
          ? {
              workspace: {
                name: workspace.name,
                version: workspace.version,
                modules: workspace.modules,
              },
            }
          : {}),
      },
      workspace?.body ?? Buffer.alloc(0),
      {
        timeoutMs,
        outputCap: Number.MAX_SAFE_INTEGER,
        onOutput: (stream, text) =>
          (stream === "stdout" ? process.stdout : process.stderr).write(text),
      },
    );
    if (response.error) printError(response.error);
    return response.exit_code;
  } finally {
    await set.stop();
  }
}
