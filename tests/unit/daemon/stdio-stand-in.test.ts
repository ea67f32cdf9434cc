// The stand-in whose stdio the daemon's run zygotes take under `kiln watch`
// (src/daemon/stdio-stand-in.ts): what a process writes into its stdout and
// stderr through pidfd_getfd(2) (as run_fork.py take_stdio does) reaches the
// watch's sink whole and unchanged, and sync() resolves only once all of it
// has (the run's result line must come after its output). A real stand-in
// and a real Python writer. (Node reads a readable pipe to exhaustion in one
// turn, so the late output sync() guards against did not show up here even
// without it; what this proves is the token's removal, whole output, and the
// routing between runs.)
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StdioStandIn } from "../../../src/daemon/stdio-stand-in.js";
import { REPO } from "../../helpers/kiln.js";
import { processAlive } from "../../helpers/processes.js";
import { pythonFor } from "../../helpers/pythons.js";

// Writes N bytes of a pattern to the stand-in's stdout and M to its stderr,
// through descriptors taken from it as the daemon's fork takes them:
// pidfd_getfd, or (where Yama refuses that) by reopening /proc/<pid>/fd/N,
// which works because the stand-in's stdout and stderr are pipes.
const WRITER = `
import os, sys
sys.path.insert(0, sys.argv[1])
from kiln_harness.run_fork import _reopen, take_stdio
pid = int(sys.argv[2])
if sys.argv[5] == "reopen":
    fds = [None, _reopen(pid, 1), _reopen(pid, 2)]
    assert None not in fds[1:], "not reopenable"
else:
    fds, reason = take_stdio(pid)
    assert fds is not None, reason
for fd, n in ((fds[1], int(sys.argv[3])), (fds[2], int(sys.argv[4]))):
    data = bytes(i % 251 for i in range(n))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
# Said on another pipe, as the daemon says a run's end on its socket: the
# stand-in's pipes may still hold the last of the output.
os.write(1, b"done\\n")
`;

function pattern(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = i % 251;
  return out;
}

const standIns: StdioStandIn[] = [];
afterEach(() => {
  for (const s of standIns.splice(0)) s.close();
});

describe("StdioStandIn", () => {
  it("hands on every byte written into its stdio before sync() resolves", async () => {
    const fallback: Buffer[] = [];
    const standIn = new StdioStandIn(pythonFor("7.2"), {
      stdout: (c) => fallback.push(c),
      stderr: (c) => fallback.push(c),
    });
    standIns.push(standIn);
    const pid = standIn.pid();
    expect(pid).toBeDefined();
    // Sizes well past a pipe's buffer, so that the data (and the token after
    // it) arrive in many chunks; a second round checks the next run's start.
    for (const [how, outBytes, errBytes] of [
      ["pidfd", 3_000_000, 700_001],
      ["reopen", 1_000_000, 1],
      ["pidfd", 1, 0],
    ] as const) {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      standIn.route({ stdout: (c) => out.push(c), stderr: (c) => err.push(c) });
      // Not spawnSync: this process must read the pipes while Python writes.
      const writer = spawn(
        pythonFor("7.2"),
        ["-c", WRITER, join(REPO, "python"), String(pid), String(outBytes), String(errBytes), how],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      writer.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const closed = new Promise<number | null>((done) => writer.on("close", done));
      await new Promise<void>((done, fail) => {
        writer.stdout.on("data", (c: Buffer) => {
          if (c.toString().includes("done")) done();
        });
        void closed.then(() => fail(new Error(`the writer ended early: ${stderr}`)));
      });
      await standIn.sync();
      // Counted at the moment sync() resolved: all of it, and nothing more.
      expect(Buffer.concat(out).equals(pattern(outBytes))).toBe(true);
      expect(Buffer.concat(err).equals(pattern(errBytes))).toBe(true);
      standIn.route();
      expect(await closed).toBe(0);
    }
    expect(fallback).toEqual([]);
    expect(standIn.pid()).toBe(pid);
  }, 60_000);

  it("is one process for the session, and close() ends it", async () => {
    const standIn = new StdioStandIn(pythonFor("7.2"), { stdout: () => {}, stderr: () => {} });
    const pid = standIn.pid() as number;
    expect(processAlive(pid)).toBe(true);
    await standIn.sync();
    expect(standIn.pid()).toBe(pid);
    standIn.close();
    const until = Date.now() + 5000;
    while (processAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(processAlive(pid)).toBe(false);
  });
});
