// `kiln exec FILE | -c CODE`: locally one-shot in the strict sandbox, and
// through a server (KILN_SERVER, KILN_TOKEN) with its streaming API: output
// as it comes, the code's exit status, errors with their traceback. Under
// both runtimes (issue 14): the local run and the server use the same one.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, startExecServer } from "../helpers/exec-server.js";
import { CLI, runKiln } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

const TOKEN = "cli-token";

describe.each(["native", "pyodide"] as const)("kiln exec, runtime %s", (runtime) => {
  let server: ExecServer;
  let cwd: string;
  /** `kiln exec` run locally, in this runtime. */
  const local = (args: string[], options: Parameters<typeof runKiln>[1]) =>
    runKiln(["exec", "--runtime", runtime, ...args], options);

  beforeAll(async () => {
    cwd = tempDir("kiln-exec-cli-");
    const tokens = join(cwd, "tokens");
    writeFileSync(tokens, `${TOKEN}\n`);
    server = await startExecServer(
      ["--profile", "strict", "--runtime", runtime, "--token-file", tokens],
      { cwd },
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("runs -c locally in the strict sandbox with the code's exit status", async () => {
    const r = await local(
      ["-c", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(7)"],
      { cwd },
    );
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
    expect(r.code).toBe(7);
  });

  it("imports a workspace's modules with --workspace, under the --profile asked for", async () => {
    const src = join(cwd, "ws-src");
    mkdirSync(join(src, "shared"), { recursive: true });
    writeFileSync(join(src, "shared", "__init__.py"), "GREETING = 'from the store'\n");
    const pushed = await runKiln(["workspace", "push", "clidemo", src], { cwd });
    expect(pushed.stdout).toBe("1\n");
    const code = "import shared, os\nprint(shared.GREETING, os.path.exists(shared.__file__))";
    for (const profile of ["strict", "hermetic"]) {
      const r = await local(["-c", code, "--workspace", "clidemo", "--profile", profile], { cwd });
      expect(r.stdout, r.stderr).toBe("from the store False\n");
      expect(r.code).toBe(0);
    }
    const unknown = await local(["-c", "1", "--workspace", "nope"], { cwd });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no workspace named "nope"');
  });

  it("runs a FILE and prints an error's traceback with its lines, exit 1", async () => {
    const file = join(cwd, "fail.py");
    writeFileSync(file, "x = 1\nraise ValueError('nope')\n");
    const r = await local([file], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`File "${file}", line 2, in <module>`);
    expect(r.stderr).toContain("raise ValueError('nope')");
    expect(r.stderr).toContain("ValueError: nope");
  });

  it("runs on a server from --server or KILN_SERVER with KILN_TOKEN", async () => {
    const viaFlag = await runKiln(["exec", "--server", server.url, "-c", "print(6 * 7)"], {
      cwd,
      env: { KILN_TOKEN: TOKEN },
    });
    expect(viaFlag.stdout).toBe("42\n");
    expect(viaFlag.code).toBe(0);
    const viaEnv = await runKiln(["exec", "-c", "import sys; sys.exit(3)"], {
      cwd,
      env: { KILN_TOKEN: TOKEN, KILN_SERVER: server.url },
    });
    expect(viaEnv.code).toBe(3);
    const noToken = await runKiln(["exec", "--server", server.url, "-c", "1"], { cwd });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toContain("401");
  });

  it("prints output as it comes, before the code ends", async () => {
    const code = "import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second')";
    const child = spawn(process.execPath, [CLI, "exec", "-c", code], {
      cwd,
      env: { ...process.env, KILN_SERVER: server.url, KILN_TOKEN: TOKEN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const started = Date.now();
    const firstAt = await new Promise<number>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("first")) resolve(Date.now());
      });
    });
    const endedAt = await new Promise<number>((resolve) =>
      child.on("close", () => resolve(Date.now())),
    );
    expect(endedAt - firstAt).toBeGreaterThan(1000);
    expect(firstAt - started).toBeLessThan(endedAt - started);
  });

  it("gives the code what --stdin-file holds, locally and on a server", async () => {
    const input = join(cwd, "input.txt");
    writeFileSync(input, "line one\nline two\n");
    const code = "import sys\nprint(sys.stdin.read().upper(), end='')";
    const here = await local(["--stdin-file", input, "-c", code], { cwd });
    expect(here.stdout).toBe("LINE ONE\nLINE TWO\n");
    const remote = await runKiln(
      ["exec", "--server", server.url, "--stdin-file", input, "-c", code],
      {
        cwd,
        env: { KILN_TOKEN: TOKEN },
      },
    );
    expect(remote.stdout).toBe("LINE ONE\nLINE TWO\n");
  });

  it("refuses neither or both of FILE and -c with exit 4", async () => {
    const r = await local([], { cwd });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("give a FILE or -c CODE");
  });
});
