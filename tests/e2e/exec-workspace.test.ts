// Workspaces: `kiln workspace push` into SQLite and into a real redis-server,
// then imports through the API: natural names, packages, namespace packages,
// relative imports, the virtual __file__, tracebacks with source lines, no
// file on disk; a push is visible to the next request; unknown names are a
// clear `error`, not a 500. Plus ls/show/rm. Under both runtimes (issue 14):
// the Wasm instances get the same modules through the same virtual finder.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { runKiln } from "../helpers/kiln.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { tempDir } from "../helpers/temp.js";

function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
}

const V1 = {
  "shared/__init__.py": "from .halopsa import ticket\nVERSION = 1\n",
  "shared/halopsa.py":
    "def ticket(n):\n    return {'ticket': n}\n\ndef broken():\n    value = 1\n    raise KeyError('missing ' + str(value))\n",
  "shared/sub/__init__.py":
    "from .. import VERSION\nfrom ..halopsa import ticket as t\nDOUBLE = VERSION * 2\n",
  "plugins/extra.py": "NAME = 'namespace module'\n",
};

const PROBE = [
  "from shared import halopsa, ticket, VERSION",
  "from shared.sub import DOUBLE, t",
  "import plugins.extra, os",
  "print(halopsa.__file__)",
  "print(plugins.__file__ if hasattr(plugins, '__file__') else None, list(plugins.__path__))",
  "print(os.path.exists(halopsa.__file__))",
  "[VERSION, DOUBLE, ticket(3), t(4), plugins.extra.NAME]",
].join("\n");

const CASES = (["sqlite", "redis"] as const).flatMap((kind) =>
  (["native", "pyodide"] as const).map((runtime) => [kind, runtime] as const),
);

for (const [kind, runtime] of CASES) {
  describe(`workspaces in ${kind}, runtime ${runtime}`, () => {
    let redis: RedisServer | undefined;
    let server: ExecServer;
    let store: string;
    let cwd: string;
    let src: string;

    beforeAll(async () => {
      cwd = tempDir("kiln-exec-ws-");
      src = join(cwd, "src");
      writeTree(src, V1);
      if (kind === "redis") redis = await startRedisServer();
      store = kind === "redis" ? (redis as RedisServer).url : "sqlite";
      const pushed = await runKiln(["workspace", "push", "demo", src, "--store", store], { cwd });
      expect(pushed.stderr).toBe("");
      expect(pushed.stdout).toBe("1\n");
      server = await startExecServer(
        ["--profile", "strict", "--runtime", runtime, "--store", store],
        { cwd },
      );
    });

    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it("imports workspace modules by their natural names, with a virtual __file__", async () => {
      const r = await postExec(server.url, { workspace: "demo", code: PROBE });
      expect(r.json.error).toBeUndefined();
      expect(r.json.stdout).toBe(
        "/<kiln-workspace>/demo/shared/halopsa.py\nNone ['/<kiln-workspace>/demo/plugins']\nFalse\n",
      );
      expect(r.json.result).toEqual([1, 2, { ticket: 3 }, { ticket: 4 }, "namespace module"]);
    });

    it("shows workspace source lines in tracebacks", async () => {
      const r = await postExec(server.url, {
        workspace: "demo",
        code: "from shared import halopsa\nhalopsa.broken()",
      });
      const error = r.json.error as { type: string; traceback: string };
      expect(error.type).toBe("KeyError");
      expect(error.traceback).toContain(
        'File "/<kiln-workspace>/demo/shared/halopsa.py", line 6, in broken',
      );
      expect(error.traceback).toContain("raise KeyError('missing ' + str(value))");
    });

    it("calls a workspace function by module + function", async () => {
      const r = await postExec(server.url, {
        workspace: "demo",
        module: "shared.halopsa",
        function: "ticket",
        args: [9],
      });
      expect(r.json.result).toEqual({ ticket: 9 });
    });

    it("serves a new push to the next request", async () => {
      writeFileSync(join(src, "shared/__init__.py"), "from .halopsa import ticket\nVERSION = 2\n");
      const pushed = await runKiln(["workspace", "push", "demo", src, "--store", store], { cwd });
      expect(pushed.stdout).toBe("2\n");
      const r = await postExec(server.url, {
        workspace: "demo",
        code: "import shared\nshared.VERSION",
      });
      expect(r.json.result).toBe(2);
    });

    it("gives a request the version that was current when it started, even past a push", async () => {
      // The request imports only after the push below: it must still get
      // version 2, whole (the index and its modules travel with the request).
      const running = postExec(server.url, {
        workspace: "demo",
        code: "import time\ntime.sleep(2)\nimport shared, shared.sub\n[shared.VERSION, shared.sub.DOUBLE]",
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      writeFileSync(join(src, "shared/__init__.py"), "from .halopsa import ticket\nVERSION = 3\n");
      const pushed = await runKiln(["workspace", "push", "demo", src, "--store", store], { cwd });
      expect(pushed.stdout).toBe("3\n");
      expect((await running).json.result).toEqual([2, 4]);
      const next = await postExec(server.url, {
        workspace: "demo",
        code: "import shared, shared.sub\n[shared.VERSION, shared.sub.DOUBLE]",
      });
      expect(next.json.result).toEqual([3, 6]);
    });

    it("answers an unknown workspace or module with an error, not a 500", async () => {
      const unknown = await postExec(server.url, { workspace: "nope", code: "1" });
      expect(unknown.status).toBe(200);
      expect(unknown.json.error).toMatchObject({ type: "WorkspaceError" });
      expect(String((unknown.json.error as { message: string }).message)).toContain(
        'no workspace named "nope"',
      );
      const missing = await postExec(server.url, {
        workspace: "demo",
        code: "import shared.nothere",
      });
      expect(missing.status).toBe(200);
      expect(missing.json.error).toMatchObject({ type: "ModuleNotFoundError" });
    });

    it("lists, shows and removes workspaces", async () => {
      const ls = await runKiln(["workspace", "ls", "--store", store], { cwd });
      expect(ls.stdout).toBe("demo\t3\n");
      const show = await runKiln(["workspace", "show", "demo", "--store", store], { cwd });
      expect(show.stdout).toContain("plugins\tnamespace package");
      expect(show.stdout).toContain("shared.halopsa\tmodule\tshared/halopsa.py");
      const rm = await runKiln(["workspace", "rm", "demo", "--store", store], { cwd });
      expect(rm.code).toBe(0);
      expect((await runKiln(["workspace", "ls", "--store", store], { cwd })).stdout).toBe("");
      const gone = await postExec(server.url, { workspace: "demo", code: "1" });
      expect(gone.json.error).toMatchObject({ type: "WorkspaceError" });
    });
  });
}
