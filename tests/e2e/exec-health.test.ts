// The exec service's health: a pool whose zygote dies makes /readyz say so
// (503) and requests get 503, not a hang or a 500, until a new zygote is
// up; a request in flight on the dead zygote's worker is answered; a profile or preload that
// can't be had stops `kiln serve` at start with the reason (never a silent
// downgrade to a weaker sandbox). Under both runtimes (issue 14), but for the
// zygote: the pyodide runtime has none (each instance boots from the
// snapshot file), so what stands for a dead zygote there is an instance
// that cannot boot.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { postExec, startExecServer } from "../helpers/exec-server.js";
import { runKiln } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

describe.each(["native", "pyodide"] as const)("exec service health, runtime %s", (runtime) => {
  it.runIf(runtime === "native")(
    "reports a dead pool in /readyz, answers 503, and restarts its zygote",
    async () => {
      const server = await startExecServer(["--profile", "none"], {
        cwd: tempDir("kiln-exec-health-"),
      });
      try {
        expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
        const zygote = server.descendants().find((pid) => cmdline(pid).includes("exec-zygote"));
        expect(zygote).toBeDefined();
        const inFlight = postExec(server.url, {
          code: "import time\ntime.sleep(30)",
          timeout_ms: 60_000,
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        process.kill(zygote as number, "SIGKILL");
        const answered = await inFlight;
        expect(answered.status).toBe(200);
        expect(answered.json.error).toMatchObject({ type: "WorkerDied" });
        let ready = await fetch(`${server.url}/readyz`);
        const deadline = Date.now() + 5_000;
        while (ready.status === 200 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          ready = await fetch(`${server.url}/readyz`);
        }
        expect(ready.status).toBe(503);
        expect(JSON.stringify(await ready.json())).toContain("exec zygote");
        const r = await postExec(server.url, { code: "print(1)" });
        expect(r.status).toBe(503);
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        const back = Date.now() + 15_000;
        while (ready.status !== 200 && Date.now() < back) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          ready = await fetch(`${server.url}/readyz`);
        }
        expect(ready.status).toBe(200);
        expect((await postExec(server.url, { code: "print(5)" })).json.stdout).toBe("5\n");
        expect(server.descendants()).not.toContain(zygote);
      } finally {
        await server.stop();
      }
    },
  );

  it.runIf(runtime === "pyodide")(
    "reports a pool whose instances cannot boot in /readyz and answers 503, not a hang",
    async () => {
      const cwd = tempDir("kiln-exec-health-");
      const server = await startExecServer(["--profile", "none", "--runtime", runtime], { cwd });
      try {
        expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
        // Every instance boots from the cached snapshot: spoil it on disk,
        // so the instances started from now on die before they are ready.
        const dir = join(cwd, ".kiln", "pyodide");
        for (const name of readdirSync(dir).filter((n) => n.endsWith(".bin"))) {
          writeFileSync(join(dir, name), "not a snapshot");
        }
        // The instances already booted answer; then the pool runs dry.
        let answer = await postExec(server.url, { code: "print(1)" });
        for (let i = 0; i < 5 && answer.status === 200; i++) {
          answer = await postExec(server.url, { code: "print(1)" });
        }
        expect(answer.status).toBe(503);
        const ready = await fetch(`${server.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(JSON.stringify(await ready.json())).toContain("dying before they are ready");
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      } finally {
        await server.stop();
      }
    },
  );

  it("preloads --preload modules in the zygote: the code finds them imported", async () => {
    const server = await startExecServer(
      ["--profile", "strict", "--runtime", runtime, "--preload", "fractions,colorsys"],
      {
        cwd: tempDir("kiln-exec-preload-"),
      },
    );
    try {
      // `wave` is imported by neither the harness nor --preload: the control.
      const r = await postExec(server.url, {
        code: "import sys\n[m in sys.modules for m in ('fractions', 'colorsys', 'wave')]",
      });
      expect(r.json.result).toEqual([true, true, false]);
    } finally {
      await server.stop();
    }
  });

  it("refuses to start when a preload module can't be imported, saying which", async () => {
    const r = await runKiln(
      [
        "serve",
        ...["--port", "0", "--profile", "strict", "--runtime", runtime],
        ...["--preload", "no_such_module_kiln"],
      ],
      {
        cwd: tempDir("kiln-exec-health-"),
      },
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("no_such_module_kiln");
    expect(r.stdout).not.toContain("serving on");
  });

  it("refuses a non-loopback host without tokens", async () => {
    const r = await runKiln(
      ["serve", "--port", "0", "--host", "0.0.0.0", "--profile", "none", "--runtime", runtime],
      {
        cwd: tempDir("kiln-exec-health-"),
      },
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("needs --token-file");
  });
});
