// `kiln test --isolate none|hermetic|strict` (issue 12): the same outcomes
// for a well-behaved project, and what each profile contains. The escape
// suite proper (every attempt, every profile) is tests/security/.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  pythonWithPytest,
  type RecordedOutcomes,
  runKiln,
  runKilnRecorded,
} from "../helpers/kiln.js";
import { canImport } from "../helpers/plugin-projects.js";
import { processAlive } from "../helpers/processes.js";
import { pythonFor } from "../helpers/pythons.js";
import { copyProject, tempDir } from "../helpers/temp.js";

const namespaces = existsSync("/proc/sys/user/max_user_namespaces");

/** A project written here (never a committed fixture) with the given test files. */
function projectWith(files: Record<string, string>): string {
  const dir = tempDir("kiln-isolate-");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const PROBES = {
  "test_network.py": [
    "import os, socket",
    "def test_connect_outside():",
    '    socket.create_connection(("127.0.0.1", int(os.environ["KILN_ISOLATE_PORT"])), timeout=5).close()',
    "",
  ].join("\n"),
  "test_files.py": [
    "import os",
    "def test_write_project():",
    '    with open(os.path.join(os.path.dirname(__file__), "written.txt"), "w") as f:',
    '        f.write("x")',
    "def test_tmp_path(tmp_path):",
    '    (tmp_path / "f").write_text("ok")',
    '    assert (tmp_path / "f").read_text() == "ok"',
    "",
  ].join("\n"),
};

let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((socket) => socket.end());
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  port = address.port;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe.skipIf(!namespaces)("kiln test --isolate", () => {
  it("gives the same outcomes and exit code under every profile for a normal project", async () => {
    const runs: RecordedOutcomes[] = [];
    for (const profile of ["none", "hermetic", "strict"]) {
      const { recorded } = await runKilnRecorded(["--isolate", profile, "-n", "2"], {
        cwd: copyProject("basic"),
      });
      runs.push(recorded);
    }
    // Failure texts too, but for object addresses (`<X object at 0x7f...>`).
    const same = (recorded: RecordedOutcomes): RecordedOutcomes =>
      JSON.parse(JSON.stringify(recorded).replace(/0x[0-9a-f]+/g, "0x?"));
    const [none, hermetic, strict] = runs.map(same);
    expect(Object.keys(none?.outcomes ?? {}).length).toBeGreaterThan(20);
    expect(hermetic).toEqual(none);
    expect(strict).toEqual(none);
  });

  it("cuts the network off under hermetic and strict, and the project is read-only under strict", async () => {
    const outcome = async (profile: string) => {
      const cwd = projectWith(PROBES);
      const { result, recorded } = await runKilnRecorded(["--isolate", profile, "-n", "1"], {
        cwd,
        env: { KILN_ISOLATE_PORT: String(port) },
      });
      return { result, outcomes: recorded.outcomes, written: existsSync(join(cwd, "written.txt")) };
    };
    const none = await outcome("none");
    expect(none.outcomes).toEqual({
      "test_files.py::test_tmp_path": "passed",
      "test_files.py::test_write_project": "passed",
      "test_network.py::test_connect_outside": "passed",
    });
    expect(none.written).toBe(true);

    const hermetic = await outcome("hermetic");
    expect(hermetic.outcomes["test_network.py::test_connect_outside"]).toBe("failed");
    // Its own loopback: nothing listens there.
    expect(hermetic.result.stdout).toContain("ConnectionRefusedError");
    expect(hermetic.outcomes["test_files.py::test_write_project"]).toBe("passed");

    const strict = await outcome("strict");
    expect(strict.outcomes).toEqual({
      "test_files.py::test_tmp_path": "passed",
      "test_files.py::test_write_project": "failed",
      "test_network.py::test_connect_outside": "failed",
    });
    expect(strict.written).toBe(false);
    expect(strict.result.stdout).toMatch(
      /PermissionError: \[Errno 13\] Permission denied: .*written\.txt/,
    );
  });

  for (const profile of ["hermetic", "strict"]) {
    it(`kills a hung worker on --timeout under ${profile}, by its pid outside the namespace`, async () => {
      // The test switches off the worker's own faulthandler deadline, so only
      // the supervisor's watchdog (a SIGKILL to the pid the zygote's fork
      // returned) can end it; it sleeps, so strict's CPU limit does not.
      const cwd = projectWith({
        "test_hang.py": [
          "import faulthandler, time",
          "def test_hang():",
          "    faulthandler.cancel_dump_traceback_later()",
          "    time.sleep(600)",
          "def test_after():",
          "    pass",
          "",
        ].join("\n"),
      });
      const r = await runKiln(
        ["test", "--isolate", profile, "-n", "1", "--timeout", "1", "-p", "no:timeout"],
        {
          cwd,
          timeoutMs: 40_000,
        },
      );
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("The worker did not answer the timeout, so it was killed");
      expect(r.stdout).toMatch(/1 failed, 1 passed/);
      const pid = Number(/Kiln stopped worker kw1 \(pid (\d+)\)/.exec(r.stdout)?.[1]);
      expect(pid).toBeGreaterThan(1);
      expect(processAlive(pid)).toBe(false);
    });
  }

  it("Ctrl-C reaches workers in the PID namespace: the run stops as pytest's does, exit 2", async () => {
    const cwd = projectWith({
      "test_slow.py": [
        "import sys, time",
        "def test_a():",
        '    print("STARTED", flush=True)',
        "    time.sleep(60)",
        "",
      ].join("\n"),
    });
    const started = Date.now();
    const r = await runKiln(["test", "--isolate", "strict", "-n", "1", "-s"], {
      cwd,
      // Once the test runs (-s prints live), as a terminal's Ctrl-C would.
      onSpawn: (child) => {
        let seen = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes("STARTED")) {
            seen = "";
            child.kill("SIGINT");
          }
        });
      },
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(2);
    // Where the test was when the signal came: in the sleep (line 4), or
    // still returning from the print that told us it started (line 3).
    expect(r.stdout).toMatch(/test_slow\.py:[34]: KeyboardInterrupt/);
    // The worker got the signal: not the 60 s sleep, nor a kill after a grace.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("a report too large for a frame still arrives from a strict worker (spilled in its private /tmp)", async () => {
    // Over report_sender.SPILL_BODY_AT (16 MiB): the body goes through a file.
    // A strict worker writes it in the private /tmp, not the host's scratch dir.
    const cwd = projectWith({
      "test_big.py": [
        "import sys",
        "def test_big():",
        '    sys.stdout.write("x" * (20 * 1024 * 1024) + "\\nEND-OF-BIG-OUTPUT\\n")',
        "    assert False",
        "",
      ].join("\n"),
      "pyproject.toml": "[tool.kiln.limits]\nfile_size_mb = 64\n",
    });
    const r = await runKiln(["test", "--isolate", "strict", "-n", "1", "-rA"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("END-OF-BIG-OUTPUT");
    expect(r.stdout).toMatch(/1 failed in/);
  });

  it("[tool.kiln] isolate picks the profile; the flag wins over it", async () => {
    const files = {
      ...PROBES,
      "pyproject.toml": '[tool.kiln]\nisolate = "strict"\n',
    };
    const configured = projectWith(files);
    const r = await runKiln(["test", "-n", "1", "test_files.py"], { cwd: configured });
    expect(r.code).toBe(1);
    expect(existsSync(join(configured, "written.txt"))).toBe(false);
    const overridden = projectWith(files);
    const n = await runKiln(["test", "--isolate", "none", "-n", "1", "test_files.py"], {
      cwd: overridden,
    });
    expect(n.code).toBe(0);
    expect(existsSync(join(overridden, "written.txt"))).toBe(true);
  });

  it.skipIf(existsSync("/sys/fs/cgroup/cgroup.controllers"))(
    "a limit that needs a missing feature is a usage error naming it, never ignored",
    async () => {
      const cwd = projectWith({
        ...PROBES,
        "pyproject.toml": "[tool.kiln.limits]\nmemory_mb = 128\n",
      });
      const r = await runKiln(["test", "--isolate", "strict"], { cwd });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("kiln: --isolate strict cannot be applied here");
      expect(r.stderr).toContain("cgroup v2 is not mounted");
      expect(r.stderr).toContain("kiln doctor");
      expect(r.stdout).not.toContain("passed");
    },
  );

  it.skipIf(!canImport(pythonFor("8.4"), ["pytest_cov"]))(
    "pytest-cov under strict is refused (exit 4), not silently emptied; hermetic measures",
    async () => {
      const args = ["test", "--python", pythonFor("8.4"), "--cov", "-q"];
      const strict = await runKiln([...args, "--isolate", "strict"], {
        cwd: copyProject("plugin_cov"),
      });
      expect(strict.code).toBe(4);
      expect(strict.stderr).toContain("pytest-cov under --isolate strict");
      const hermetic = await runKiln([...args, "--isolate", "hermetic"], {
        cwd: copyProject("plugin_cov"),
      });
      expect(hermetic.code).toBe(0);
      // The workers' data was combined: the same table as without a sandbox.
      const none = await runKiln([...args, "--isolate", "none"], {
        cwd: copyProject("plugin_cov"),
      });
      const table = (out: string) => out.slice(out.indexOf("Name "), out.indexOf("TOTAL") + 40);
      expect(table(hermetic.stdout)).toContain("TOTAL");
      expect(table(hermetic.stdout)).toBe(table(none.stdout));
    },
  );

  it("refuses an unknown profile with exit 4 and the choices", async () => {
    const r = await runKiln(["test", "--isolate", "sealed"], { cwd: projectWith(PROBES) });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      'kiln: error: --isolate: unknown isolation profile "sealed"; choose one of none, hermetic, strict',
    );
    const bad = projectWith({ ...PROBES, "pyproject.toml": '[tool.kiln]\nisolate = "max"\n' });
    const c = await runKiln(["test"], { cwd: bad });
    expect(c.code).toBe(4);
    expect(c.stderr).toMatch(
      /pyproject\.toml \[tool\.kiln\] isolate: unknown isolation profile "max"/,
    );
  });

  it("kiln doctor lists each profile and whether it works here", async () => {
    const r = await runKiln(["doctor"], { cwd: projectWith(PROBES) });
    expect(r.stdout).toContain("isolation profiles (kiln test --isolate):");
    expect(r.stdout).toMatch(/^ {2}none: yes/m);
    // This machine has user namespaces, Landlock and seccomp (see doctor's features).
    expect(r.stdout).toMatch(/^ {2}hermetic: yes \(/m);
    expect(r.stdout).toMatch(/^ {2}strict: yes \(/m);
  });
});

const USER = "kiln-isolate-test";

/** The test user (created once, idempotently): uid and gid. */
function testUser(): { uid: number; gid: number } {
  if (spawnSync("id", ["-u", USER]).status !== 0) {
    const made = spawnSync(
      "useradd",
      ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
      {
        encoding: "utf8",
      },
    );
    // Another test file may have raced us to it.
    if (made.status !== 0 && spawnSync("id", ["-u", USER]).status !== 0) {
      throw new Error(`useradd ${USER} failed: ${made.stderr}`);
    }
  }
  const id = (flag: string) => Number(spawnSync("id", [flag, USER], { encoding: "utf8" }).stdout);
  return { uid: id("-u"), gid: id("-g") };
}

describe.skipIf(!namespaces || process.getuid?.() !== 0)("--isolate as a non-root user", () => {
  it("applies hermetic through an unprivileged user namespace, with root's outcomes", async () => {
    const { uid, gid } = testUser();
    const home = tempDir("kiln-nonroot-");
    const cwd = join(home, "project");
    const tmp = join(home, "tmp");
    mkdirSync(tmp);
    const source = copyProject("basic");
    spawnSync("cp", ["-r", source, cwd]);
    spawnSync("chown", ["-R", `${uid}:${gid}`, home]);
    chownSync(home, uid, gid);
    const outcomes = join(home, "outcomes.json");
    const r = spawnSync(
      "setpriv",
      [
        `--reuid=${uid}`,
        `--regid=${gid}`,
        "--clear-groups",
        process.execPath,
        CLI,
        "test",
        "--isolate",
        "hermetic",
        "-n",
        "2",
        "-p",
        "kiln_harness.outcome_recorder",
      ],
      {
        cwd,
        encoding: "utf8",
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          USER,
          LOGNAME: USER,
          TMPDIR: tmp,
          PYTHONDONTWRITEBYTECODE: "1",
          KILN_PYTHON: pythonWithPytest(),
          KILN_OUTCOMES_FILE: outcomes,
        },
      },
    );
    expect(r.stderr).not.toMatch(/kiln: error|cannot be applied/);
    const asUser = JSON.parse(readFileSync(outcomes, "utf8")) as {
      exit_code: number;
      outcomes: object;
    };
    const { recorded } = await runKilnRecorded(["--isolate", "none", "-n", "2"], {
      cwd: copyProject("basic"),
    });
    expect(r.status).toBe(recorded.exit_code);
    expect(asUser.outcomes).toEqual(recorded.outcomes);
    expect(asUser.exit_code).toBe(recorded.exit_code);
  });
});
