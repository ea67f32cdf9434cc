// `kiln watch` with `kiln daemon` running (issue 11's fast loop): each rerun's
// zygote is forked by the daemon, its output still comes through the watch
// (in order, before the result line), an edit of a module the tests import
// only indirectly is picked up (level 1 held it: the rerun must not use the
// stale copy), and quitting leaves nothing but the daemon, which stops clean.
// Real processes: the daemon, its level 1, kiln watch, pytest; a real pty.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { daemonTestKit, gone, level1Warm } from "../helpers/daemon.js";
import { CLI, REPO, runKiln } from "../helpers/kiln.js";
import { processesIn } from "../helpers/processes.js";
import { runOnPty } from "../helpers/pty.js";
import { copyProject } from "../helpers/temp.js";

const kit = daemonTestKit("watch-daemon");
const WATCH_PROJECT = join(REPO, "tests/fixtures/watch/project");
const WATCH = ["watch", "-n", "1", "-v", "-p", "no:cacheprovider"];
// A failed test must not leave its watch running (the daemon goes with kit's clean-up).
const watches: ChildProcess[] = [];
afterEach(() => {
  for (const child of watches.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
const FROM_DAEMON = /kiln: zygote from the daemon \(pid \d+, level 0 pid (\d+) /;

/** Processes in `dir` other than the daemon's levels, once the kernel reaped them. */
async function othersIn(dir: string, daemonPids: number[]): Promise<number[]> {
  const until = Date.now() + 5000;
  for (;;) {
    const left = processesIn(dir).filter((pid) => !daemonPids.includes(pid));
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** A copy of the watch project with a warm daemon (level 1 holding lib.top, lib.consts). */
async function warmProject(env: Record<string, string>) {
  const dir = copyProject(WATCH_PROJECT);
  const kiln = (args: string[]) => runKiln(args, { cwd: dir, env, timeoutMs: 90_000 });
  // A cold run teaches the daemon the project's modules.
  await kiln(["test", "--no-daemon", "-q"]);
  const started = await kiln(["daemon", "start"]);
  expect(started.code, started.stderr).toBe(0);
  const pid = Number(/\(pid (\d+),/.exec(started.stdout)?.[1]);
  kit.track(pid);
  const line = await level1Warm(kit, dir);
  const level1 = Number(/level 1 +pid (\d+)/.exec(line)?.[1]);
  return { dir, pid, level1, kiln };
}

describe("kiln watch through the daemon", () => {
  it("forks each rerun from the daemon, picks up an indirectly imported edit, prints output before the result", async () => {
    const { dir, pid, level1, kiln } = await warmProject(kit.env);
    // Written by the cold run: the watch's first run must write it again.
    rmSync(join(dir, ".kiln/imports.json"), { force: true });
    const child = spawn(process.execPath, [CLI, ...WATCH], {
      cwd: dir,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...kit.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    watches.push(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
    });
    const seen = (re: RegExp, from: number) =>
      new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`never saw ${re}:\n${out}\n${err}`)), 60_000);
        const check = () => {
          const match = re.exec(out.slice(from));
          if (match === null) return;
          clearTimeout(timer);
          child.stdout.off("data", check);
          done(out.slice(from, from + match.index + match[0].length));
        };
        child.stdout.on("data", check);
        check();
      });
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    const first = await seen(/kiln: watch: 1 failed, 4 passed in \d+\.\d\ds \(all tests\)\n/, 0);
    expect(first).toMatch(FROM_DAEMON);
    expect(Number(FROM_DAEMON.exec(first)?.[1])).toBe(pid);
    // The run's imports are folded for the next selection after its result
    // line (watch-runner.ts), while the watch goes on.
    const imports = join(dir, ".kiln/imports.json");
    const until = Date.now() + 5000;
    while (!(existsSync(imports) && readFileSync(imports, "utf8").includes("tests/test_top.py"))) {
      if (Date.now() > until) throw new Error("the first run's imports were not folded");
      await new Promise((done) => setTimeout(done, 50));
    }
    // Held by level 1, imported by the test only through lib/top.py.
    let from = out.length;
    writeFileSync(join(dir, "lib/consts.py"), "A = 2\n");
    const edited = await seen(
      /kiln: watch: [^\n]* in \d+\.\d\ds \(changed: lib\/consts.py\)\n/,
      from,
    );
    expect(edited).toMatch(FROM_DAEMON);
    expect(edited).toContain("tests/test_top.py::test_value FAILED");
    // pytest's failure text came through the stand-in, before the result line.
    expect(edited).toMatch(/assert 20 == 10[\s\S]*kiln: watch: 1 failed in /);
    // Once level 1 was re-forked with the new file, the fast path sees it too.
    await level1Warm(kit, dir);
    from = out.length;
    writeFileSync(join(dir, "lib/consts.py"), "A = 1\n");
    const back = await seen(
      /kiln: watch: [^\n]* in \d+\.\d\ds \(changed: lib\/consts.py\)\n/,
      from,
    );
    expect(back).toContain("tests/test_top.py::test_value PASSED");
    expect(back).toMatch(/kiln: watch: 1 passed in /);
    expect(err).not.toContain("daemon not used");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // The watch's zygotes, workers and its stdio stand-in are gone; the daemon stays.
    const level1Now = Number(
      /level 1 +pid (\d+)/.exec((await kiln(["daemon", "status"])).stdout)?.[1],
    );
    expect(await othersIn(dir, [pid, level1, level1Now])).toEqual([]);
    const stopped = await kiln(["daemon", "stop"]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await gone(pid)).toBe(true);
    expect(await othersIn(dir, [])).toEqual([]);
  }, 120_000);

  it("on a terminal: the rerun comes from the daemon, and q and SIGKILL leave only the daemon", async () => {
    // The environment runOnPty gives kiln: the daemon must have the same.
    const env = { ...kit.env, TERM: "xterm" };
    const { dir, pid, kiln } = await warmProject(env);
    const argv = [process.execPath, CLI, ...WATCH];
    const r = await runOnPty(
      argv,
      dir,
      [
        {
          expect: "kiln: watch: 1 failed, 4 passed in [\\d.]+s \\(all tests\\)",
          write: { path: "lib/consts.py", text: "A = 3\n" },
        },
        { expect: "kiln: watch: 1 failed in [\\d.]+s \\(changed: lib/consts.py\\)", send: "q" },
      ],
      60,
      env,
    );
    expect(r.error).toBe(null);
    expect(r.exitCode).toBe(0);
    const rerun = r.transcript.slice(r.transcript.indexOf("running (changed: lib/consts.py)"));
    expect(rerun).toMatch(FROM_DAEMON);
    expect(rerun).toContain("assert 30 == 10");
    const daemonPids = () =>
      kiln(["daemon", "status"]).then((s) => [
        pid,
        Number(/level 1 +pid (\d+)/.exec(s.stdout)?.[1]),
        // Held collections (the daemon's too: they end with it).
        ...[...s.stdout.matchAll(/collected +pid (\d+)/g)].map((m) => Number(m[1])),
      ]);
    expect(await othersIn(dir, await daemonPids())).toEqual([]);
    // SIGKILL of the watch in the middle of a run through the daemon (a test
    // file, not WATCH_SLOW: another environment would make the daemon refuse).
    writeFileSync(
      join(dir, "tests/test_slow.py"),
      "import time\n\n\ndef test_slow():\n    time.sleep(30)\n",
    );
    const killed = await runOnPty(
      argv,
      dir,
      [{ expect: "collected 6 items", delaySeconds: 1, signal: 9 }],
      30,
      env,
    );
    expect(killed.signal).toBe(9);
    expect(killed.transcript).toMatch(FROM_DAEMON);
    expect(await othersIn(dir, await daemonPids())).toEqual([]);
    await kiln(["daemon", "stop"]);
    expect(await gone(pid)).toBe(true);
  }, 150_000);
});
