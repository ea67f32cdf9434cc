// The escape suite's side of the wall: what the attempts in
// tests/fixtures/security/escape aim at, planted outside every path a
// worker may touch, and the servers they try to reach, run here on the
// host's 127.0.0.1. The attempts run in `kiln test --isolate <profile>`;
// this side then checks, from outside, that nothing reached its target.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { CLI, pythonWithPytest, REPO } from "../helpers/kiln.js";
import { copyProject } from "../helpers/temp.js";

export const ESCAPE_PROJECT = "tests/fixtures/security/escape";

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * What the attempts aim at. The secret, the outside file and $HOME sit in a
 * directory under /var/tmp: outside the project, outside the temp dir, and
 * on the same filesystem as the temp dir, so a hard link from tmp_path to
 * them is refused by the sandbox, not by EXDEV. The host /tmp file is in
 * the real /tmp (not TMPDIR): hermetic's private /tmp must hide it.
 */
export interface Plants {
  token: string;
  project: string;
  dir: string;
  secret: string;
  secretText: string;
  outside: string;
  outsideText: string;
  home: string;
  hostTmp: string;
  etcProbe: string;
  /** sha of every file in the project, taken after planting. */
  projectFiles: Map<string, string>;
  remove(): void;
}

function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string, rel: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if ([".kiln", ".pytest_cache", "__pycache__"].includes(entry.name)) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path, `${rel}${entry.name}/`);
      else files.set(`${rel}${entry.name}`, readFileSync(path, "latin1"));
    }
  };
  walk(dir, "");
  return files;
}

/** Copies the project and plants the targets; `owner` (the non-root run) owns all of it. */
export function plant(owner?: Owner): Plants {
  const token = randomBytes(6).toString("hex");
  const project = copyProject(join(REPO, ESCAPE_PROJECT));
  const dir = realpathSync(mkdtempSync("/var/tmp/kiln-escape-"));
  const secret = join(dir, "secret.txt");
  const secretText = `SECRET-${token}\n`;
  const outside = join(dir, "outside.txt");
  const outsideText = `outside file of run ${token}\n`;
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(secret, secretText, { mode: 0o644 });
  writeFileSync(outside, outsideText, { mode: 0o666 });
  const hostTmp = `/tmp/kiln-escape-host-${token}`;
  writeFileSync(hostTmp, "planted in the host's /tmp\n");
  if (owner !== undefined) {
    // Everything an attempt aims at is the user's own, so file permissions
    // would let it through: a refusal is the sandbox's.
    for (const path of [dir, secret, outside, home, hostTmp]) {
      chownSync(path, owner.uid, owner.gid);
    }
    chownTree(project, owner);
  }
  const etcProbe = `/etc/kiln-escape-${token}`;
  return {
    token,
    project,
    dir,
    secret,
    secretText,
    outside,
    outsideText,
    home,
    hostTmp,
    etcProbe,
    projectFiles: snapshot(project),
    remove() {
      rmSync(dir, { recursive: true, force: true });
      rmSync(hostTmp, { force: true });
      // Only there if an attempt got through (the none run).
      rmSync(etcProbe, { force: true });
    },
  };
}

export function chownTree(dir: string, owner: Owner): void {
  chownSync(dir, owner.uid, owner.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chownTree(path, owner);
    else chownSync(path, owner.uid, owner.gid);
  }
}

/** What got past the wall, seen from outside; empty when nothing did. */
export function breaches(plants: Plants, servers: Servers): string[] {
  const found: string[] = [];
  if (servers.tcpConnections > 0) {
    found.push(`the TCP server got ${servers.tcpConnections} connection(s)`);
  }
  if (servers.udpDatagrams > 0)
    found.push(`the UDP server got ${servers.udpDatagrams} datagram(s)`);
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "(deleted)");
  if (read(plants.secret) !== plants.secretText) found.push("the secret changed");
  if (read(plants.outside) !== plants.outsideText) found.push("the outside file changed");
  if (existsSync(plants.etcProbe)) found.push(`${plants.etcProbe} was created`);
  const home = readdirSync(plants.home);
  if (home.length > 0) found.push(`$HOME got ${home.join(", ")}`);
  const now = snapshot(plants.project);
  for (const [name, text] of now) {
    if (plants.projectFiles.get(name) !== text)
      found.push(`project file ${name} changed or appeared`);
  }
  for (const name of plants.projectFiles.keys()) {
    if (!now.has(name)) found.push(`project file ${name} disappeared`);
  }
  if (!existsSync(plants.hostTmp)) found.push(`${plants.hostTmp} was removed`);
  return found;
}

export interface Servers {
  tcpPort: number;
  udpPort: number;
  tcpConnections: number;
  udpDatagrams: number;
  close(): Promise<void>;
}

/** A TCP server that counts connections and a UDP server that answers and counts datagrams. */
export async function startServers(): Promise<Servers> {
  const state = { tcpConnections: 0, udpDatagrams: 0 };
  const open = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    state.tcpConnections++;
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
    socket.end();
  });
  await new Promise<void>((ready) => tcp.listen(0, "127.0.0.1", ready));
  const udp: UdpSocket = createSocket("udp4");
  udp.on("message", (_message, from) => {
    state.udpDatagrams++;
    // Answered, so an attempt that got through knows it did (test_network.py).
    udp.send("heard you", from.port, from.address);
  });
  await new Promise<void>((ready) => udp.bind(0, "127.0.0.1", ready));
  const tcpAddress = tcp.address();
  if (tcpAddress === null || typeof tcpAddress === "string") {
    throw new Error("this is a bug in the escape harness: the TCP server has no port");
  }
  return {
    tcpPort: tcpAddress.port,
    udpPort: udp.address().port,
    get tcpConnections() {
      return state.tcpConnections;
    },
    get udpDatagrams() {
      return state.udpDatagrams;
    },
    close: () =>
      new Promise<void>((done) => {
        udp.close();
        // A connection that got through (the none run) may still be open.
        for (const socket of open) socket.destroy();
        tcp.close(() => done());
      }),
  };
}

/** One result line of .kiln/runs/<id>/results.jsonl (src/events/records.ts ResultRecord). */
export interface Phase {
  nodeid: string;
  when: string;
  outcome: "passed" | "failed" | "skipped";
  longreprtext?: string;
  crashed?: true;
}

export interface EscapeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  supervisorPid: number;
  /** Every collected node id. */
  items: string[];
  phases: Map<string, Phase[]>;
  workerEvents: { event: string; signal?: string | number | null; exitCode?: number | null }[];
}

function jsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

export interface RunEscapeOptions {
  plants: Plants;
  servers: Servers;
  /** Run `kiln` as this user (setpriv): the non-root run. */
  user?: Owner & { tmpdir: string };
  python?: string;
  timeoutMs?: number;
}

/**
 * What an attempt aims at, as the KILN_ESCAPE_* variables its Targets class
 * reads (the fixture's conftest.py, and escape-exec's driver).
 */
export function targetEnv(plants: Plants, servers: Servers): Record<string, string> {
  return {
    KILN_ESCAPE_TOKEN: plants.token,
    KILN_ESCAPE_TCP_PORT: String(servers.tcpPort),
    KILN_ESCAPE_UDP_PORT: String(servers.udpPort),
    KILN_ESCAPE_SECRET: plants.secret,
    KILN_ESCAPE_OUTSIDE: plants.outside,
    KILN_ESCAPE_HOST_TMP: plants.hostTmp,
    KILN_ESCAPE_HOST_NETNS: readlinkSync("/proc/self/ns/net"),
    KILN_ESCAPE_HOST_PIDNS: readlinkSync("/proc/self/ns/pid"),
  };
}

/**
 * `kiln test <args>` on the planted project. The CLI is started through
 * `sh -c 'exec ...'` so its pid (the supervisor's) is known before it runs
 * and can be handed to the attempts.
 */
export function runEscape(args: string[], options: RunEscapeOptions): Promise<EscapeRun> {
  const { plants, servers, user } = options;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: "1",
    KILN_PYTHON: options.python ?? pythonWithPytest(),
    HOME: plants.home,
    ...targetEnv(plants, servers),
    ...(user === undefined ? {} : { TMPDIR: user.tmpdir, USER: "kilnescape" }),
  };
  const shell = ["/bin/sh", "-c", 'KILN_ESCAPE_SUPERVISOR_PID=$$ exec "$@"', "sh"];
  const asUser =
    user === undefined
      ? []
      : ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups"];
  const argv = [...asUser, ...shell, process.execPath, CLI, "test", ...args];
  const [command, ...rest] = argv as [string, ...string[]];
  return new Promise((done, fail) => {
    const child = spawn(command, rest, {
      cwd: plants.project,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`kiln test ${args.join(" ")} did not finish in time:\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 240_000);
    child.on("error", fail);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const run = join(plants.project, ".kiln", "runs", "latest");
      const items = jsonLines<{ type: string; nodeid?: string }>(join(run, "collect.jsonl"))
        .filter((record) => record.type === "item")
        .map((record) => record.nodeid ?? "");
      const phases = new Map<string, Phase[]>();
      for (const phase of jsonLines<Phase>(join(run, "results.jsonl"))) {
        phases.set(phase.nodeid, [...(phases.get(phase.nodeid) ?? []), phase]);
      }
      done({
        code,
        signal,
        stdout,
        stderr,
        supervisorPid: child.pid ?? -1,
        items,
        phases,
        workerEvents: jsonLines(join(run, "workers.jsonl")),
      });
    });
  });
}

/** `kiln test` arguments for one batch of attempts: a profile, two workers, no cache, a marker expression. */
export function escapeArgs(isolate: string, markers: string, ...more: string[]): string[] {
  return ["--isolate", isolate, "-n", "2", "-p", "no:cacheprovider", "-m", markers, ...more];
}

export interface EscapeSessionOptions {
  /** Before planting: who owns the targets and runs kiln (the non-root run). */
  prepare?: () => { owner: Owner; user: Owner & { tmpdir: string } };
  /** After planting, before the runs: e.g. a test file added to this run's copy. */
  planted?: (plants: Plants) => void;
  /** After the targets and servers are gone (e.g. remove a user made by prepare). */
  cleanup?: () => void;
  /** For all the runs together (vitest's beforeAll bound). */
  timeoutMs?: number;
}

export interface EscapeSession {
  readonly plants: Plants;
  readonly servers: Servers;
  /** The first run. */
  readonly run: EscapeRun;
  /** The run of the index-th argument list. */
  runAt(index: number): EscapeRun;
}

/**
 * In the calling describe block: plant the targets, start the servers, run
 * `kiln test` once per argument list (one after another: two at once would
 * share the processes limit), and remove it all afterwards. The session's
 * fields are there once beforeAll has run.
 */
export function escapeSession(
  argLists: string[][],
  options: EscapeSessionOptions = {},
): EscapeSession {
  let state: { plants: Plants; servers: Servers; runs: EscapeRun[] } | undefined;
  let plants: Plants | undefined;
  let servers: Servers | undefined;
  beforeAll(async () => {
    const who = options.prepare?.();
    plants = plant(who?.owner);
    options.planted?.(plants);
    servers = await startServers();
    const runs: EscapeRun[] = [];
    for (const args of argLists)
      runs.push(await runEscape(args, { plants, servers, user: who?.user }));
    state = { plants, servers, runs };
  }, options.timeoutMs ?? 300_000);
  afterAll(async () => {
    plants?.remove();
    await servers?.close();
    options.cleanup?.();
  });
  const ready = () => {
    if (!state)
      throw new Error("this is a bug in the escape tests: the session was read before it ran");
    return state;
  };
  return {
    get plants() {
      return ready().plants;
    },
    get servers() {
      return ready().servers;
    },
    get run() {
      return this.runAt(0);
    },
    runAt(index: number) {
      const run = ready().runs[index];
      if (!run) throw new Error(`this is a bug in the escape tests: no run number ${index}`);
      return run;
    },
  };
}
