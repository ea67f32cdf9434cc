// SIGTERM to `kiln serve`: the request in flight finishes and is answered,
// new ones are refused, the pools stop, and no process is left behind.
// Under both runtimes (issue 14); the pyodide runtime's instances are
// threads of the server, so it starts no process at all.
import { describe, expect, it } from "vitest";
import { postExec, startExecServer } from "../helpers/exec-server.js";
import { processAlive } from "../helpers/processes.js";
import { tempDir } from "../helpers/temp.js";

describe.each(["native", "pyodide"] as const)("kiln serve on SIGTERM, runtime %s", (runtime) => {
  it("drains the request in flight, then stops every process it started", async () => {
    const server = await startExecServer(["--profile", "strict,none", "--runtime", runtime], {
      cwd: tempDir("kiln-exec-drain-"),
    });
    const tree = server.descendants();
    // native: two zygotes, strict's namespace init, and idle workers.
    if (runtime === "native") expect(tree.length).toBeGreaterThanOrEqual(4);
    else expect(tree).toEqual([]);
    const inFlight = postExec(server.url, {
      code: "import time\ntime.sleep(1.2)\nprint('finished')",
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = server.stop("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await postExec(server.url, { code: "1" }).catch(() => ({ status: 0 }));
    expect([0, 503]).toContain(refused.status);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.json.stdout).toBe("finished\n");
    expect(await stopped).toBe(0);
    expect(server.output()).toContain("kiln: stopped");
    const alive = [...tree, ...server.descendants()].filter(processAlive);
    expect(alive).toEqual([]);
  });

  it("kills what is still running once the drain bound passes", async () => {
    const server = await startExecServer(
      ["--profile", "strict", "--runtime", runtime, "--drain-ms", "300"],
      {
        cwd: tempDir("kiln-exec-drain-"),
      },
    );
    const tree = server.descendants();
    const stuck = postExec(server.url, { code: "while True: pass", timeout_ms: 60_000 }).catch(
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = [...tree, ...server.descendants()];
    const started = Date.now();
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await stuck;
    expect(all.filter(processAlive)).toEqual([]);
  });
});
