// A real `kiln serve` (the built CLI) on a free loopback port, for the exec
// service's e2e tests: started, waited for until it prints its ready line,
// and stopped with SIGTERM; its process tree can be listed to prove that
// nothing is left behind.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { CLI } from "./kiln.js";
import { processAlive } from "./processes.js";

export interface ExecServer {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Every live descendant of the server (zygotes, workers, their children). */
  descendants(): number[];
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (processAlive(child)) found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

export async function startExecServer(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<ExecServer> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`kiln serve did not start:\n${output}`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /kiln: serving on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kiln serve exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    descendants: () => (child.pid === undefined ? [] : descendantsOf(child.pid)),
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface ExecResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

export async function postExec(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<ExecResult> {
  const response = await fetch(`${url}/v1/exec`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: response.status, headers: response.headers, json };
}
