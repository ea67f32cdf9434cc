// The sandbox issue's escape suite through the exec API (issue 13): each
// attempt in tests/fixtures/security/escape runs as one POST /v1/exec to a
// real `kiln serve --profile strict` over real HTTP. The attempts' modules
// are pushed as a workspace (they are imported from the store, as a
// client's code would be), and a small driver calls one test function per
// request with what pytest would have given it (the planted targets,
// tmp_path, its parameters). Each must be refused, the service must then
// answer the next request correctly, and from outside nothing the attempts
// aimed at may have been reached (escape-harness.ts plants the same targets
// as for `kiln test --isolate strict`).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  descendantsOf,
  type ExecServer,
  postExec,
  startExecServer,
} from "../helpers/exec-server.js";
import { CLI, pythonWithPytest } from "../helpers/kiln.js";
import {
  breaches,
  type Plants,
  plant,
  type Servers,
  startServers,
  targetEnv,
} from "./escape-harness.js";

/**
 * Attempts of the suite that have no meaning for an exec request, and why.
 * Everything else in the project runs.
 */
const NOT_FOR_EXEC: Record<string, string> = {
  // Their target is the test protocol between a pytest worker and its
  // zygote (forged test reports, body files, a stack dump); an exec worker
  // speaks another protocol. Garbage on every descriptor does apply, below.
  "test_protocol.py::test_forged_result_for_another_test": "pytest report protocol",
  "test_protocol.py::test_stack_file_swapped_for_a_link_to_the_secret": "pytest --timeout dump",
  "test_protocol_body.py": "pytest report protocol",
  "test_zz_canary.py": "pytest report protocol",
  // Its target is a descriptor the project's conftest.py opens in the test
  // zygote; an exec zygote runs no user code before the fork.
  "test_inherited_fds.py": "no conftest in the exec zygote",
  // A control that reads the project's files: an exec worker has no project.
  "test_controls.py::test_project_is_readable": "no project in exec",
};

/** How an attempt ends when refused, where that is not the test passing. */
const ENDS: Record<string, "time" | "worker-killed"> = {
  // No RLIMIT_CPU is set per request; timeout_ms is the request's bound.
  "test_limits.py::test_cpu_spin": "time",
  // Writing into the worker's control channel is a protocol violation: the
  // supervisor ends that worker, and the request fails.
  "test_protocol.py::test_garbage_on_every_fd": "worker-killed",
};

interface Case {
  id: string;
  module: string;
  function: string;
  param: number | null;
}

// Lists the test functions (and each parametrized case) of the pushed
// modules, in the sandbox like the attempts (listing is harmless).
const LIST = `
import importlib, inspect
cases = []
for module in ${JSON.stringify([
  "test_controls",
  "test_filesystem",
  "test_limits",
  "test_network",
  "test_processes",
  "test_protocol",
  "test_syscalls",
])}:
    mod = importlib.import_module(module)
    for name, fn in inspect.getmembers(mod, inspect.isfunction):
        if not name.startswith("test_") or fn.__module__ != module:
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            cases.append({"id": f"{module}.py::{name}", "module": module, "function": name, "param": None})
            continue
        values = marks[0].args[1]
        ids = marks[0].kwargs.get("ids")
        for i, value in enumerate(values):
            label = ids[i] if ids else str(value)
            cases.append({"id": f"{module}.py::{name}[{label}]", "module": module, "function": name, "param": i})
cases
`;

// Calls one attempt as pytest would: the conftest's Targets from the
// planted environment, a fresh tmp_path, its parametrize values. A refusal
// returns "refused"; an escape raises pytest's Failed ("ESCAPED: ...").
const DRIVER = `
import importlib, inspect, json, os, pathlib, tempfile
case = json.loads(os.environ["KILN_ESCAPE_CASE"])

class Targets:
    def __init__(self):
        env = os.environ
        self.token = env["KILN_ESCAPE_TOKEN"]
        self.tcp_port = int(env["KILN_ESCAPE_TCP_PORT"])
        self.udp_port = int(env["KILN_ESCAPE_UDP_PORT"])
        self.secret = env["KILN_ESCAPE_SECRET"]
        self.outside = env["KILN_ESCAPE_OUTSIDE"]
        self.host_tmp = env["KILN_ESCAPE_HOST_TMP"]
        self.supervisor_pid = int(env["KILN_ESCAPE_SUPERVISOR_PID"])
        self.host_netns = env["KILN_ESCAPE_HOST_NETNS"]
        self.host_pidns = env["KILN_ESCAPE_HOST_PIDNS"]
        self.home = env["KILN_ESCAPE_HOME"]
        self.project = env["KILN_ESCAPE_PROJECT"]
        self.zygote_pid = int(env["KILN_ESCAPE_ZYGOTE_PID"])
        self.zygote_fd = -1
        self.supervisor_pids = [self.supervisor_pid]

fn = getattr(importlib.import_module(case["module"]), case["function"])
wanted = inspect.signature(fn).parameters
kwargs = {}
if "targets" in wanted:
    kwargs["targets"] = Targets()
if "tmp_path" in wanted:
    kwargs["tmp_path"] = pathlib.Path(tempfile.mkdtemp())
if case["param"] is not None:
    mark = [m for m in fn.pytestmark if m.name == "parametrize"][0]
    names = mark.args[0]
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    value = mark.args[1][case["param"]]
    kwargs.update(zip(names, value if len(names) > 1 else (value,)))
fn(**kwargs)
"refused"
`;

function excluded(id: string): boolean {
  return Object.keys(NOT_FOR_EXEC).some((key) => id === key || id.startsWith(`${key}::`));
}

describe("the escape suite through POST /v1/exec (strict)", () => {
  let plants: Plants;
  let servers: Servers;
  let server: ExecServer;
  let env: Record<string, string>;
  let cases: Case[] = [];

  const exec = (body: Record<string, unknown>) =>
    postExec(server.url, { workspace: "escape", env, timeout_ms: 20_000, ...body });

  async function answersNext(): Promise<void> {
    const next = await postExec(server.url, { code: "print(1)" });
    expect(next.status).toBe(200);
    expect(next.json).toMatchObject({ stdout: "1\n", stderr: "", exit_code: 0 });
  }

  beforeAll(async () => {
    plants = plant();
    servers = await startServers();
    const python = pythonWithPytest();
    // The server's cwd is the planted project: its files are the "project"
    // the attempts try to write, and its .kiln/ holds the workspace store.
    const pushed = spawnSync(
      process.execPath,
      [CLI, "workspace", "push", "escape", plants.project, "--store", "sqlite"],
      { cwd: plants.project, encoding: "utf8" },
    );
    expect(pushed.status, pushed.stderr).toBe(0);
    server = await startExecServer(["--profile", "strict", "--store", "sqlite"], {
      cwd: plants.project,
      env: { KILN_PYTHON: python, HOME: plants.home },
    });
    const serverPid = server.child.pid ?? -1;
    const zygote = descendantsOf(serverPid).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("exec-zygote");
      } catch {
        return false;
      }
    });
    if (zygote === undefined)
      throw new Error(`no exec zygote under the server:\n${server.output()}`);
    env = {
      ...targetEnv(plants, servers),
      KILN_ESCAPE_SUPERVISOR_PID: String(serverPid),
      KILN_ESCAPE_ZYGOTE_PID: String(zygote),
      KILN_ESCAPE_HOME: plants.home,
      KILN_ESCAPE_PROJECT: plants.project,
    };
    const listed = await exec({ code: LIST });
    expect(listed.json.error, JSON.stringify(listed.json)).toBeUndefined();
    cases = (listed.json.result as Case[]).filter((c) => !excluded(c.id));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    plants?.remove();
    await servers?.close();
  });

  it("runs the suite's attempts", () => {
    const ids = cases.map((c) => c.id);
    expect(ids.length).toBeGreaterThan(50);
    for (const id of [
      "test_network.py::test_tcp_connect_to_host_loopback",
      "test_filesystem.py::test_read_secret",
      "test_processes.py::test_kill_supervisor",
      "test_syscalls.py::test_mount_tmpfs",
      "test_limits.py::test_fork_bomb",
      "test_protocol.py::test_garbage_on_every_fd",
    ])
      expect(ids).toContain(id);
  });

  it("refuses every attempt, and answers print(1) correctly after each", async () => {
    const escaped: string[] = [];
    for (const c of cases) {
      const ends = ENDS[c.id];
      const r = await exec({
        code: DRIVER,
        env: { ...env, KILN_ESCAPE_CASE: JSON.stringify(c) },
        ...(ends === "time" ? { timeout_ms: 3_000 } : {}),
      });
      const error = r.json.error as { type?: string; message?: string } | undefined;
      const refused =
        ends === "time"
          ? r.status === 200 && (r.json.limits_hit as string[]).includes("time")
          : ends === "worker-killed"
            ? r.status === 200 && r.json.exit_code !== 0 && error !== undefined
            : r.status === 200 && r.json.result === "refused" && r.json.exit_code === 0;
      if (!refused) escaped.push(`${c.id}: ${r.status} ${JSON.stringify(r.json).slice(0, 600)}`);
      await answersNext();
    }
    expect(escaped).toEqual([]);
  }, 300_000);

  it("lets nothing through to the targets outside", () => {
    expect(breaches(plants, servers)).toEqual([]);
  });

  it("is still up and ready, its pool healthy", async () => {
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    await answersNext();
  });
});
