// cli/early-queue.ts: the coordinator's queue thread started from main.ts
// before commander parses; taken by the run for the same URL, ended for
// another, and never what keeps a command that does not run alive.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { flagValue } from "../../../src/cli/early-zygote.js";
import { REPO } from "../../helpers/kiln.js";

const MODULE = join(REPO, "dist/cli/early-queue.js");

/**
 * Runs an ES module script with Node (from a file: a worker thread inherits
 * `-e`'s --input-type and fails on it); its stdout, trimmed, and how long it took.
 */
function node(script: string): Promise<{ out: string; err: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), "early-queue-"));
  const file = join(dir, "script.mjs");
  writeFileSync(file, script);
  const started = Date.now();
  const child = spawn(process.execPath, [file]);
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", () => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      done({ out: out.trim(), err, ms: Date.now() - started });
    });
  });
}

let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  server = undefined;
});

describe("flagValue", () => {
  it.each([
    [["-q"], undefined],
    [["--queue", "redis://h:1"], "redis://h:1"],
    [["--queue=redis://h:1", "-x"], "redis://h:1"],
    [["-x", "--", "--queue", "redis://h:1"], undefined],
  ] as const)("%j -> %s", (args, expected) => {
    expect(flagValue(args, "--queue")).toBe(expected);
  });
});

describe("the early queue thread", () => {
  it("is the run's for the same URL (its connection error included), ended for another", async () => {
    const script = `
      import { startEarlyQueue, takeEarlyQueue } from ${JSON.stringify(MODULE)};
      startEarlyQueue(["-q", "--queue", "redis://127.0.0.1:1"]);
      const other = takeEarlyQueue("redis://127.0.0.1:2");
      startEarlyQueue(["--queue=redis://127.0.0.1:1"]);
      const same = takeEarlyQueue("redis://127.0.0.1:1");
      startEarlyQueue(["--queue", "http://nope"]);
      const bad = takeEarlyQueue("http://nope");
      const handlers = { progress() {}, completed() {}, failed() {}, connectionLost() {} };
      const why = await same.listen(handlers).then(() => "connected", (e) => e.message);
      console.log(String(other), String(bad), why.includes("unreachable"));
    `;
    const { out, err } = await node(script);
    expect(out, err).toBe("undefined undefined true");
  });

  it("does not keep a command alive that never takes it", async () => {
    // A server that accepts and never answers: the thread's connection
    // waits on it (node-redis' 5 s connect timeout does not apply).
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const script = `
      import { startEarlyQueue } from ${JSON.stringify(MODULE)};
      startEarlyQueue(["--queue", "redis://127.0.0.1:${port}"]);
      setTimeout(() => console.log("done"), 500);
    `;
    const { out, ms, err } = await node(script);
    expect(out, err).toBe("done");
    expect(ms).toBeLessThan(15_000);
  });
});
