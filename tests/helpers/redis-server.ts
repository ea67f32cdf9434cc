// A real redis-server on a free loopback port, for the Redis store's tests.
// A missing binary fails the test (it is part of the dev setup, not optional).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REDIS_SERVER = process.env.KILN_TEST_REDIS_SERVER ?? "/usr/bin/redis-server";

/** Starts a command that the kernel kills when its starter dies (die_with_parent.py). */
export const DIE_WITH_PARENT = join(dirname(fileURLToPath(import.meta.url)), "die_with_parent.py");

export interface RedisServer {
  url: string;
  port: number;
  /** Sends a signal to the server (SIGSTOP/SIGCONT to simulate a hang). */
  signal(signal: NodeJS.Signals): void;
  /** Stops the server (SIGTERM, or the given signal) and waits for it to exit. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A port nothing listens on right now: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(
      `${REDIS_SERVER} is missing: the Redis store's tests need a real redis-server; ` +
        "run scripts/setup.sh (or set KILN_TEST_REDIS_SERVER)",
    );
  }
  // Another process can take the free port between the probe and the bind;
  // a few attempts make that race irrelevant.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(port: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-redis-"));
  // Through die_with_parent.py: a vitest killed before afterAll must not
  // leave the server running.
  const child = spawn(
    "/usr/bin/python3",
    [
      DIE_WITH_PARENT,
      REDIS_SERVER,
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ].concat(["--dir", dir]),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT"); // a stopped process would not act on SIGTERM
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPong(port, child, () => output);
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    signal: (signal) => {
      child.kill(signal);
    },
    stop,
  };
}

async function waitForPong(port: number, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`redis-server exited with ${child.exitCode}:\n${output()}`);
    }
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING in 10 s:\n${output()}`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}
