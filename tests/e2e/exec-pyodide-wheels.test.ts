// Packages in the pyodide runtime (issue 14: "packages come only from wheels
// Kiln vendors or the user points to"): a pure-Python wheel built here (a
// zip with METADATA, WHEEL and RECORD, as PEP 427 lays it out) is loaded
// from its local file into the snapshot, by --wheel or [tool.kiln.exec]
// wheels, and imports in a request, its modules not imported at build time
// included; --preload imports from it; a rebuilt wheel builds a new
// snapshot. Every package that is not there is a clear error before
// anything runs, and nothing is ever fetched: a URL to a real loopback
// listener is refused and the listener sees no connection.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/protocol/exit-codes.js";
import { postExec, startExecServer } from "../helpers/exec-server.js";
import { HARNESS, REPO, runKiln } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

let cwd: string;
let listener: Server;
let port: number;
let connections = 0;

/** Writes NAME-VERSION-py3-none-any.whl into `dir` with these module files; returns its path. */
function buildWheel(dir: string, name: string, files: Record<string, string>): string {
  const script = `
import base64, hashlib, json, sys, zipfile
dir, name, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
info = f"{name}-0.1.dist-info"
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 0.1\\n"
files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: kiln-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
path = f"{dir}/{name}-0.1-py3-none-any.whl"
record = []
with zipfile.ZipFile(path, "w") as z:
    for member, text in files.items():
        data = text.encode()
        z.writestr(member, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
print(path)
`;
  return execFileSync("python3", ["-c", script, dir, name, JSON.stringify(files)], {
    encoding: "utf8",
  }).trim();
}

const TINY = {
  "tinypkg/__init__.py": "VALUE = 42\ndef hello():\n    return 'hello from tinypkg'\n",
  "tinypkg/sub.py": "X = 'sub, imported first by the request'\n",
};

let wheel: string;

beforeAll(async () => {
  cwd = tempDir("kiln-pyodide-wheels-");
  mkdirSync(join(cwd, "wheels"));
  wheel = buildWheel(join(cwd, "wheels"), "tinypkg", TINY);
  buildWheel(join(cwd, "wheels"), "otherpkg", { "otherpkg.py": "NAME = 'other'\n" });
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()));
  port = (listener.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => listener?.close(resolve));
  expect(connections).toBe(0);
});

const pyodideExec = (args: string[], code: string, dir = cwd) =>
  runKiln(["exec", "--runtime", "pyodide", ...args, "-c", code], { cwd: dir, timeoutMs: 120_000 });

const snapshots = (dir: string) =>
  readdirSync(join(dir, ".kiln", "pyodide")).filter((n) => n.endsWith(".bin"));

describe("a wheel the user points to", () => {
  it("loads with --wheel, its modules and metadata in every request", async () => {
    const r = await pyodideExec(
      [
        ...["--wheel", "wheels/tinypkg-0.1-py3-none-any.whl"],
        ...["--wheel", "wheels/otherpkg-0.1-py3-none-any.whl"],
      ],
      // gc.collect(): a file left open in the snapshot (importlib.metadata
      // caching the stdlib zip open, seen with two wheels) has a dead
      // descriptor in the instance; its "Exception ignored ... Bad file
      // descriptor" must not land in a request's stderr.
      "import gc, importlib.metadata, tinypkg, tinypkg.sub, otherpkg\ngc.collect()\n" +
        "print(tinypkg.hello(), tinypkg.VALUE, tinypkg.sub.X, importlib.metadata.version('tinypkg'), otherpkg.NAME)",
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from tinypkg 42 sub, imported first by the request 0.1 other\n");
    expect(r.code).toBe(0);
    const [bin] = snapshots(cwd);
    expect(readdirSync(join(cwd, ".kiln", "pyodide"))).toContain(`${bin}.files`);
  });

  it("is not there without it (a snapshot of its own, keyed without the wheel)", async () => {
    const r = await pyodideExec([], "import tinypkg");
    expect(r.stderr).toContain("ModuleNotFoundError: No module named 'tinypkg'");
    expect(r.code).toBe(1);
    expect(snapshots(cwd)).toHaveLength(2);
  });

  it("serves it with --preload: imported once into the snapshot", async () => {
    const server = await startExecServer(
      ["--runtime", "pyodide", "--wheel", wheel, "--preload", "tinypkg"],
      { cwd },
    );
    try {
      const r = await postExec(server.url, {
        code: "import sys\nprint('tinypkg' in sys.modules, 'tinypkg.sub' in sys.modules)\nimport tinypkg.sub\nprint(tinypkg.sub.X)",
      });
      expect(r.json.stdout).toBe("True False\nsub, imported first by the request\n");
      expect(r.json.exit_code).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it("reads [tool.kiln.exec] wheels, relative to pyproject.toml, through the one TOML reader", async () => {
    const project = join(cwd, "project");
    mkdirSync(join(project, "src"), { recursive: true });
    writeFileSync(
      join(project, "pyproject.toml"),
      `[tool.kiln.exec]\nwheels = ["../wheels/tinypkg-0.1-py3-none-any.whl"]\n`,
    );
    const r = await pyodideExec([], "import tinypkg\nprint(tinypkg.VALUE)", join(project, "src"));
    expect(r).toMatchObject({ code: 0, stdout: "42\n" });
  });

  it("builds a new snapshot when the wheel is rebuilt with other contents", async () => {
    const other = tempDir("kiln-pyodide-rebuilt-");
    const first = buildWheel(other, "tinypkg", TINY);
    expect(
      (await pyodideExec(["--wheel", first], "import tinypkg\nprint(tinypkg.VALUE)", other)).stdout,
    ).toBe("42\n");
    buildWheel(other, "tinypkg", { ...TINY, "tinypkg/__init__.py": "VALUE = 43\n" });
    const r = await pyodideExec(["--wheel", first], "import tinypkg\nprint(tinypkg.VALUE)", other);
    expect(r).toMatchObject({ code: 0, stdout: "43\n" });
    expect(snapshots(other)).toHaveLength(2);
  });
});

describe("a package that is not there is a clear error, and nothing is fetched", () => {
  it("refuses a URL without connecting to it", async () => {
    const url = `http://127.0.0.1:${port}/tinypkg-0.1-py3-none-any.whl`;
    const r = await pyodideExec(["--wheel", url], "print(1)");
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("a URL; the pyodide runtime never fetches packages");
    expect(r.stdout).toBe("");
    expect(connections).toBe(0);
  });

  it("refuses a URL in [tool.kiln.exec] wheels too", async () => {
    const project = tempDir("kiln-pyodide-url-");
    writeFileSync(
      join(project, "pyproject.toml"),
      `[tool.kiln.exec]\nwheels = ["http://127.0.0.1:${port}/x-1-py3-none-any.whl"]\n`,
    );
    const r = await pyodideExec([], "print(1)", project);
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("[tool.kiln.exec] wheels http://127.0.0.1");
    expect(connections).toBe(0);
  });

  it("refuses a wheel file that is not there", async () => {
    const r = await pyodideExec(["--wheel", "wheels/gone-1.0-py3-none-any.whl"], "print(1)");
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toMatch(/--wheel wheels\/gone-1\.0-py3-none-any\.whl: cannot read .*ENOENT/);
  });

  it("refuses a file that is not a zip archive", async () => {
    writeFileSync(join(cwd, "wheels", "bad-1.0-py3-none-any.whl"), "not a zip\n");
    const r = await pyodideExec(["--wheel", "wheels/bad-1.0-py3-none-any.whl"], "print(1)");
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("not a zip archive, so not a wheel");
  });

  it("refuses a zip Pyodide cannot install, and never reports it loaded", async () => {
    const dir = tempDir("kiln-pyodide-broken-");
    execFileSync("python3", [
      "-c",
      "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nz.writestr('broken/__init__.py', 'X = 1')\nz.close()",
      join(dir, "broken-1.0-py3-none-any.whl"),
    ]);
    const r = await pyodideExec(["--wheel", "broken-1.0-py3-none-any.whl"], "print(1)", dir);
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("did not load");
    expect(r.stderr).toContain(".dist-info directory not found");
    expect(r.stdout).toBe("");
  });

  it("refuses a wheel with a C extension for another platform", async () => {
    const path = join(cwd, "wheels", "fast-1.0-cp312-cp312-manylinux_2_17_x86_64.whl");
    writeFileSync(path, "PK\u0003\u0004");
    const r = await pyodideExec(["--wheel", path], "print(1)");
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("pure-Python wheels only");
  });

  it("refuses --preload of a module no wheel gives, without fetching it", async () => {
    const r = await runKiln(
      ["serve", "--runtime", "pyodide", "--wheel", wheel, "--preload", "numpy", "--port", "0"],
      { cwd, timeoutMs: 120_000 },
    );
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("--preload numpy: no module numpy in the pyodide runtime");
    expect(r.stderr).toContain("tinypkg 0.1");
    expect(connections).toBe(0);
  });

  it("stops the snapshot thread's own fetch too, below the checks of the given paths", async () => {
    // The thread that builds the snapshot, given a URL directly (wheels.ts
    // refuses one long before): Pyodide's loader would fetch it.
    const harness = Object.fromEntries(
      ["exec_run.py", "exec_workspace.py", "exec_wasm.py"].map((name) => [
        name,
        readFileSync(join(HARNESS, "kiln_harness", name), "utf8"),
      ]),
    );
    const url = `http://127.0.0.1:${port}/tinypkg-0.1-py3-none-any.whl`;
    const thread = new Worker(join(REPO, "dist/pyodide/instance-thread.js"), {
      workerData: {
        mode: "snapshot",
        harness,
        wheels: [{ path: url, name: "tinypkg", version: "0.1" }],
      },
    });
    const message = await new Promise<{ type: string; message?: string }>((resolve) =>
      thread.once("message", resolve),
    );
    await thread.terminate();
    expect(message.type).toBe("refused");
    expect(message.message).toContain(`Pyodide tried to fetch ${url}`);
    expect(connections).toBe(0);
  });

  it("refuses --wheel with the native runtime, whose packages are the interpreter's", async () => {
    const r = await runKiln(["exec", "--runtime", "native", "--wheel", wheel, "-c", "print(1)"], {
      cwd,
    });
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("--wheel is for the pyodide runtime");
  });

  it("refuses --wheel with --server: a server loads its own wheels", async () => {
    const r = await runKiln(
      ["exec", "--server", `http://127.0.0.1:${port}`, "--wheel", wheel, "-c", "print(1)"],
      { cwd },
    );
    expect(r.code).toBe(ExitCode.USAGE_ERROR);
    expect(r.stderr).toContain("--wheel runs locally only");
    expect(connections).toBe(0);
  });
});
