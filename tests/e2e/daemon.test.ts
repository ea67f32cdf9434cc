// `kiln daemon` (issue 11): start/status/stop, `kiln test` forking its zygote
// from the daemon's level 0 with the same outcomes, failure text, exit code
// and run record as a cold run, the cold fallbacks, and no process left
// behind after stop, SIGKILL (of the daemon or of a client), the idle timeout
// or the project directory's removal. Real processes throughout.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonTestKit, gone, normalized } from "../helpers/daemon.js";
import { CLI, PROJECTS, runKiln } from "../helpers/kiln.js";
import { childrenOf, processAlive } from "../helpers/processes.js";
import { kilnOnPty } from "../helpers/pty.js";
import { copyProject, tempDir } from "../helpers/temp.js";

const kit = daemonTestKit("daemon");
const { kiln, startDaemon, recorded } = kit;
const PYTHON = kit.python;
const ENV = kit.env;

describe("kiln daemon", () => {
  it("starts, says its status, and stops leaving no process", async () => {
    const dir = copyProject("basic");
    const pid = await startDaemon(dir);
    expect(existsSync(join(dir, ".kiln", "daemon.json"))).toBe(true);
    const again = await kiln(["daemon", "start"], dir);
    expect(again.stdout).toContain(`already runs (pid ${pid})`);
    const status = await kiln(["daemon", "status"], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`daemon      pid ${pid}`);
    expect(status.stdout).toContain(join(dir, ".kiln", "daemon.sock"));
    expect(status.stdout).toMatch(new RegExp(`level 0     pid ${pid}, RSS [\\d.]+ MiB`));
    expect(status.stdout).toContain(`python      ${PYTHON}`);
    expect(status.stdout).toContain("runs        0 served");
    const stopped = await kiln(["daemon", "stop"], dir);
    expect(stopped.stdout).toContain(`daemon stopped (pid ${pid})`);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(join(dir, ".kiln", "daemon.json"))).toBe(false);
    const none = await kiln(["daemon", "status"], dir);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("no daemon runs");
  });

  // Each: a project and arguments. Cold first (which also teaches the
  // daemon what to preload), then through the daemon, then the comparison.
  const CASES: [string, string[]][] = [
    ["basic", []],
    ["basic", ["-n", "1", "-x"]],
    ["crashes", []],
    ["capture", ["-s", "-n", "1"]],
    ["fixtures", ["-n", "1", "-v"]],
  ];
  it.for(CASES)(
    "%s %j: through the daemon, the same outcomes, failure text, exit code and record",
    async ([name, args]) => {
      const dir = copyProject(name);
      const cold = await recorded(["--no-daemon", ...args], dir);
      const coldManifest = JSON.parse(
        readFileSync(join(dir, ".kiln/runs/latest/manifest.json"), "utf8"),
      ) as Record<string, unknown>;
      const coldFiles = readdirSync(join(dir, ".kiln/runs/latest")).sort();
      const pid = await startDaemon(dir);
      const warm = await recorded(args, dir);
      expect(warm.result.stderr).not.toContain("daemon not used");
      expect(warm.result.stdout).toMatch(
        new RegExp(`kiln: zygote from the daemon \\(pid \\d+, level 0 pid ${pid} warm since`),
      );
      expect(cold.result.stdout).not.toContain("zygote from the daemon");
      expect(warm.result.code).toBe(cold.result.code);
      expect(warm.outcomes.exit_code).toBe(cold.outcomes.exit_code);
      expect(warm.outcomes.outcomes).toEqual(cold.outcomes.outcomes);
      expect(Object.keys(warm.outcomes.failures)).toEqual(Object.keys(cold.outcomes.failures));
      if (args.includes("-s")) {
        // Test output goes straight to the terminal, and pytest's progress
        // letters come from the zygote as results arrive: their interleaving
        // varies between any two runs, cold or warm. What follows is fixed.
        const tail = (out: string) => normalized(out.slice(out.indexOf("= FAILURES =")));
        expect(tail(warm.result.stdout)).toBe(tail(cold.result.stdout));
        for (const line of ["captured stdout of a failing test", "this output is not shown"]) {
          expect(warm.result.stdout).toContain(line);
        }
      } else {
        expect(normalized(warm.result.stdout)).toBe(normalized(cold.result.stdout));
      }
      // The run record: the same files, the same manifest fields.
      const warmManifest = JSON.parse(
        readFileSync(join(dir, ".kiln/runs/latest/manifest.json"), "utf8"),
      ) as Record<string, unknown>;
      expect(readdirSync(join(dir, ".kiln/runs/latest")).sort()).toEqual(coldFiles);
      expect(Object.keys(warmManifest).sort()).toEqual(Object.keys(coldManifest).sort());
      expect(warmManifest.exitCode).toEqual(coldManifest.exitCode);
      await kiln(["daemon", "stop"], dir);
    },
  );

  it("learns from the last run what to preload, never a project module", async () => {
    const dir = copyProject("src_layout");
    await kiln(["test", "--no-daemon"], dir);
    const lines = readFileSync(join(dir, ".kiln/runs/latest/modules.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { module: string; path: string; source: string });
    const installed = lines.filter((l) => l.source === "installed");
    expect(installed.length).toBeGreaterThan(0);
    for (const l of installed) expect(l.path.startsWith(dir), l.path).toBe(false);
    // The project's own modules are recorded as before, and not as installed.
    const project = lines.filter((l) => l.path.startsWith(dir)).map((l) => l.module);
    expect(project.length).toBeGreaterThan(0);
    const pid = await startDaemon(dir);
    const status = await kiln(["daemon", "status"], dir);
    const preloaded = Number(/(\d+) modules preloaded/.exec(status.stdout)?.[1]);
    expect(preloaded).toBeGreaterThan(0);
    const maps = readFileSync(`/proc/${pid}/maps`, "utf8");
    expect(maps).not.toContain(dir);
    await kiln(["daemon", "stop"], dir);
  });

  it("relearns: a run that imported more rebuilds level 0 while idle, and runs keep using it", async () => {
    const dir = copyProject("src_layout");
    // No run record yet: level 0 holds only what a cold zygote holds at its hello.
    await startDaemon(dir);
    const preloaded = async () => {
      const status = await kiln(["daemon", "status"], dir);
      return Number(/(\d+) modules preloaded/.exec(status.stdout)?.[1]);
    };
    const before = await preloaded();
    const first = await kiln(["test", "-n", "1"], dir);
    expect(first.stdout).toContain("zygote from the daemon");
    let after = await preloaded();
    for (let i = 0; i < 50 && after <= before; i++) {
      await new Promise((done) => setTimeout(done, 200));
      after = await preloaded();
    }
    expect(after).toBeGreaterThan(before);
    expect(readFileSync(join(dir, ".kiln", "daemon.log"), "utf8")).toContain(
      "rebuilding level 0: the last run imported",
    );
    // Same pid (an exec), same socket: the next run is warm, no note.
    const second = await kiln(["test", "-n", "1"], dir);
    expect(second.stderr).not.toContain("daemon not used");
    expect(second.stdout).toContain("zygote from the daemon");
    expect(normalized(second.stdout)).toBe(normalized(first.stdout));
    await kiln(["daemon", "stop"], dir);
  });

  it("never forks from a stale level 0: an installed module edited on disk rebuilds it", async () => {
    // An "installed" package outside the project (on PYTHONPATH, as an
    // editable install elsewhere would be), and one pytest must rewrite.
    const lib = tempDir("kiln-daemon-lib-");
    writeFileSync(join(lib, "extlib.py"), "VALUE = 1\n");
    writeFileSync(join(lib, "extassert.py"), "def check(x):\n    assert x == 1\n");
    const dir = tempDir("kiln-daemon-stale-");
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "conftest.py"),
      'import pytest\npytest.register_assert_rewrite("extassert")\n',
    );
    writeFileSync(
      join(dir, "test_lib.py"),
      "import extlib, extassert\n\ndef test_value():\n    assert extlib.VALUE == 1\n\n" +
        "def test_rewritten():\n    extassert.check(2)\n",
    );
    const env = { ...ENV, PYTHONPATH: lib };
    const run = () => runKiln(["test", "-n", "1", "-rA"], { cwd: dir, env });
    const cold = await run();
    expect(cold.code).toBe(1);
    const learned = readFileSync(join(dir, ".kiln/runs/latest/modules.jsonl"), "utf8");
    expect(learned).toContain('"module":"extlib"');
    // pytest's hook loaded it: preloading it would cost its assert rewriting.
    expect(learned).not.toContain('"module":"extassert"');
    const started = await runKiln(["daemon", "start"], { cwd: dir, env });
    kit.track(Number(/\(pid (\d+),/.exec(started.stdout)?.[1]));
    const warm = await run();
    expect(warm.stderr).not.toContain("daemon not used");
    expect(warm.stdout).toContain("zygote from the daemon");
    expect(normalized(warm.stdout)).toBe(normalized(cold.stdout));
    expect(warm.stdout).not.toContain("cannot be rewritten");
    // The rewritten assert's explanation, as in the cold run.
    expect(warm.stdout).toContain("assert 2 == 1");
    writeFileSync(join(lib, "extlib.py"), "VALUE = 2\n");
    const edited = await run();
    expect(edited.stderr).toContain(
      `kiln: daemon not used: ${join(lib, "extlib.py")} changed since it was imported; it restarts`,
    );
    expect(edited.stdout).toContain("assert 2 == 1");
    expect(edited.stdout).toMatch(/2 failed/);
    // Rebuilt with the edited module: warm again, with the new value.
    let rebuilt = await run();
    for (let i = 0; i < 20 && rebuilt.stderr.includes("daemon not used"); i++)
      rebuilt = await run();
    expect(rebuilt.stdout).toContain("zygote from the daemon");
    expect(rebuilt.stdout).toMatch(/2 failed/);
    await runKiln(["daemon", "stop"], { cwd: dir, env });
  });

  it("leaves out of level 0 a module that warns when imported, so the run's warnings are a cold run's", async () => {
    const lib = tempDir("kiln-daemon-lib-");
    writeFileSync(
      join(lib, "extwarn.py"),
      "import warnings\nwarnings.warn('extwarn is deprecated', DeprecationWarning)\nVALUE = 1\n",
    );
    const dir = tempDir("kiln-daemon-warn-");
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_warn.py"),
      "import extwarn\n\ndef test_value():\n    assert extwarn.VALUE == 1\n",
    );
    const env = { ...ENV, PYTHONPATH: lib };
    const cold = await runKiln(["test", "-n", "1"], { cwd: dir, env });
    expect(cold.stdout).toContain("extwarn is deprecated");
    const started = await runKiln(["daemon", "start"], { cwd: dir, env });
    kit.track(Number(/\(pid (\d+),/.exec(started.stdout)?.[1]));
    expect(started.stdout).toContain(
      "left out of level 0: extwarn: warns when imported (DeprecationWarning)",
    );
    const warm = await runKiln(["test", "-n", "1"], { cwd: dir, env });
    expect(warm.stdout).toContain("zygote from the daemon");
    expect(normalized(warm.stdout)).toBe(normalized(cold.stdout));
    const status = await runKiln(["daemon", "status"], { cwd: dir, env });
    expect(status.stdout).toContain(
      "left out    extwarn: warns when imported (DeprecationWarning)",
    );
    await runKiln(["daemon", "stop"], { cwd: dir, env });
  });

  it("an interpreter behind a wrapper that edits the environment (a pyenv shim) is served", async () => {
    const dir = tempDir("kiln-daemon-shim-");
    const shim = join(dir, "python-shim");
    writeFileSync(shim, `#!/bin/sh\nexport KILN_SHIM_SET=1\nexec ${PYTHON} "$@"\n`, {
      mode: 0o755,
    });
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_env.py"),
      "import os\n\ndef test_env():\n    assert os.environ['KILN_SHIM_SET'] == '1'\n    assert os.environ['KILN_CLIENT_VALUE'] == 'välue ✓'\n",
    );
    const env = { ...ENV, KILN_PYTHON: shim, KILN_CLIENT_VALUE: "välue ✓" };
    const cold = await runKiln(["test", "-n", "1"], { cwd: dir, env });
    expect(cold.code, cold.stdout).toBe(0);
    const started = await runKiln(["daemon", "start"], { cwd: dir, env });
    kit.track(Number(/\(pid (\d+),/.exec(started.stdout)?.[1]));
    const warm = await runKiln(["test", "-n", "1"], { cwd: dir, env });
    expect(warm.stderr).not.toContain("daemon not used");
    expect(warm.stdout).toContain("zygote from the daemon");
    expect(warm.code, warm.stdout).toBe(0);
    await runKiln(["daemon", "stop"], { cwd: dir, env });
  });

  it("--no-daemon runs cold, and a run with another environment says why it ran cold", async () => {
    const dir = copyProject("basic");
    await startDaemon(dir);
    const cold = await kiln(["test", "--no-daemon"], dir);
    expect(cold.stdout).not.toContain("zygote from the daemon");
    expect(cold.stderr).not.toContain("daemon not used");
    const other = await runKiln(["test"], { cwd: dir, env: { ...ENV, KILN_EXTRA_VARIABLE: "1" } });
    expect(other.stderr).toContain(
      "kiln: daemon not used: the environment differs from the daemon's (KILN_EXTRA_VARIABLE)",
    );
    expect(other.code).toBe(cold.code);
    const status = await kiln(["daemon", "status"], dir);
    expect(status.stdout).toContain("runs        0 served");
    await kiln(["daemon", "stop"], dir);
  });

  it("a daemon killed with SIGKILL leaves no process, and the next run starts cold saying why", async () => {
    const dir = copyProject("basic");
    const pid = await startDaemon(dir);
    const warm = await kiln(["test"], dir);
    process.kill(pid, "SIGKILL");
    expect(await gone(pid, 5000)).toBe(true);
    // Level 0 is the daemon process itself, and no run was going on: nothing else.
    expect(childrenOf(pid)).toEqual([]);
    const cold = await kiln(["test"], dir);
    expect(cold.stderr).toContain(`kiln: daemon not used: the daemon (pid ${pid}) is not running`);
    expect(cold.code).toBe(warm.code);
    expect(normalized(cold.stdout)).toBe(normalized(warm.stdout));
    // The stale daemon.json went with that run.
    expect(existsSync(join(dir, ".kiln", "daemon.json"))).toBe(false);
  });

  /** A project whose one test prints "started" and sleeps; kiln running it through the daemon. */
  async function sleepyRunThroughDaemon() {
    const dir = tempDir("kiln-daemon-sleepy-");
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_sleep.py"),
      "import time\n\ndef test_sleep():\n    print('started', flush=True)\n    time.sleep(60)\n",
    );
    await startDaemon(dir);
    const child = spawn(process.execPath, [CLI, "test", "-s", "-n", "1"], {
      cwd: dir,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...ENV },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const closed = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    const zygote = await new Promise<number>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no test started:\n${stdout}`)), 30_000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
        const pid = /zygote from the daemon \(pid (\d+)/.exec(stdout)?.[1];
        if (pid !== undefined && stdout.includes("started")) {
          clearTimeout(timer);
          done(Number(pid));
        }
      });
    });
    return { dir, child, zygote, closed, stdout: () => stdout };
  }

  it("serves a project whose .kiln/daemon.sock would be too long for a Unix socket address", async () => {
    const deep = join(tempDir("kiln-daemon-deep-"), "d".repeat(60), "e".repeat(60));
    mkdirSync(deep, { recursive: true });
    cpSync(join(PROJECTS, "basic"), deep, { recursive: true });
    await startDaemon(deep);
    const status = await kiln(["daemon", "status"], deep);
    const socket = /socket +(\S+)/.exec(status.stdout)?.[1] ?? "";
    expect(socket.startsWith(deep)).toBe(false);
    expect(Buffer.byteLength(socket)).toBeLessThanOrEqual(107);
    const warm = await kiln(["test", "-n", "1"], deep);
    expect(warm.stdout).toContain("zygote from the daemon");
    await kiln(["daemon", "stop"], deep);
    expect(existsSync(socket)).toBe(false);
  });

  it("a daemon that does not answer (stopped) costs a run 5 s, never the run", async () => {
    const dir = copyProject("basic");
    const pid = await startDaemon(dir);
    const cold = await kiln(["test", "--no-daemon"], dir);
    process.kill(pid, "SIGSTOP");
    try {
      const late = await kiln(["test"], dir);
      expect(late.stderr).toContain("kiln: daemon not used: the daemon did not answer in 5 s");
      expect(late.code).toBe(cold.code);
      expect(normalized(late.stdout)).toBe(normalized(cold.stdout));
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // It forked nothing for the run that gave up, or killed what it forked.
    await kiln(["daemon", "stop"], dir);
    expect(await gone(pid, 5000)).toBe(true);
  });

  it("a client killed with SIGKILL mid-run leaves no zygote or worker", async () => {
    const { dir, child, zygote } = await sleepyRunThroughDaemon();
    const workers = childrenOf(zygote);
    expect(workers.length).toBe(1);
    child.kill("SIGKILL");
    for (const pid of [zygote, ...workers])
      expect(await gone(pid, 10_000), `pid ${pid}`).toBe(true);
    await kiln(["daemon", "stop"], dir);
  });

  it("Ctrl-C (SIGINT to kiln) stops a run through the daemon as it stops a cold one", async () => {
    const { dir, child, zygote, closed, stdout } = await sleepyRunThroughDaemon();
    const workers = childrenOf(zygote);
    child.kill("SIGINT");
    expect(await closed).toBe(2);
    expect(stdout()).toContain("KeyboardInterrupt");
    expect(stdout()).toMatch(/no tests ran|1 failed|interrupted/);
    for (const pid of [zygote, ...workers])
      expect(await gone(pid, 10_000), `pid ${pid}`).toBe(true);
    await kiln(["daemon", "stop"], dir);
  });

  it("a run from a subdirectory of the project gets the same results as cold", async () => {
    const dir = copyProject("basic");
    const sub = join(dir, "sub");
    const cold = await kiln(["test", "--no-daemon", "-n", "1"], sub);
    await startDaemon(dir);
    const warm = await kiln(["test", "-n", "1"], sub);
    expect(warm.stdout).toContain("zygote from the daemon");
    expect(warm.code).toBe(cold.code);
    expect(normalized(warm.stdout)).toBe(normalized(cold.stdout));
    await kiln(["daemon", "stop"], dir);
  });

  it("on a terminal: a breakpoint() prompt through the daemon's zygote", async () => {
    const dir = tempDir("kiln-daemon-pty-");
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    writeFileSync(
      join(dir, "test_bp.py"),
      "def test_bp():\n    y = 7\n    breakpoint()\n    assert y == 7\n",
    );
    // The environment runOnPty gives kiln: the daemon must have the same.
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", TERM: "xterm" };
    const started = spawnSync(process.execPath, [CLI, "daemon", "start", "--python", PYTHON], {
      cwd: dir,
      env,
      encoding: "utf8",
    });
    expect(started.status, started.stderr).toBe(0);
    kit.track(Number(/\(pid (\d+),/.exec(started.stdout)?.[1]));
    const r = await kilnOnPty(["--python", PYTHON, "-n", "1"], dir, [
      { expect: "\\(Pdb\\) ", send: "p y * 6\n" },
      { expect: "\n42\n", send: "c\n" },
    ]);
    expect(r.error, r.transcript).toBeNull();
    expect(r.transcript).toContain("kiln: zygote from the daemon");
    expect(r.transcript).toMatch(/1 passed in/);
    expect(r.exitCode).toBe(0);
    spawnSync(process.execPath, [CLI, "daemon", "stop"], { cwd: dir, env });
  });

  it("stops by itself when idle", async () => {
    const dir = copyProject("basic");
    // 0.02 min: 1.2 s.
    const pid = await startDaemon(dir, ["--idle", "0.02"]);
    expect(await gone(pid, 15_000)).toBe(true);
    expect(existsSync(join(dir, ".kiln", "daemon.json"))).toBe(false);
    expect(readFileSync(join(dir, ".kiln", "daemon.log"), "utf8")).toContain("stopped: idle for");
  });

  it("stops when its project directory is deleted", async () => {
    const dir = copyProject("basic");
    const pid = await startDaemon(dir);
    rmSync(dir, { recursive: true, force: true });
    expect(await gone(pid, 15_000)).toBe(true);
  });

  it("rejects a bad --idle as a usage error", async () => {
    const dir = copyProject("basic");
    const bad = await kiln(["daemon", "start", "--idle", "soon"], dir);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain(
      '--idle expects minutes (a number >= 0; 0: never idle out), got "soon"',
    );
  });
});
