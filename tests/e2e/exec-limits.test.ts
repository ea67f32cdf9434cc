// The exec service's limits over real HTTP, strict profile, under both
// runtimes (native, pyodide; issue 14): time, memory, output, a fork bomb
// (native: Wasm has no fork), sandbox escapes (each refused, and the next
// request is answered correctly), the bounded queue (429 + Retry-After,
// 1,000 concurrent connections) and the metrics that count all of it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { tempDir } from "../helpers/temp.js";

describe.each(["native", "pyodide"] as const)("runtime %s", (runtime) => {
  let server: ExecServer;

  beforeAll(async () => {
    server = await startExecServer(
      ["--profile", "strict", "--runtime", runtime, "--output-cap", String(1024 * 1024)],
      { cwd: tempDir("kiln-exec-limits-") },
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function stillServes(): Promise<void> {
    const r = await postExec(server.url, { code: "print('alive')\n40 + 2" });
    expect(r.json).toMatchObject({ stdout: "alive\n", result: 42, exit_code: 0 });
  }

  describe("limits", () => {
    it("kills code that never ends at timeout_ms", async () => {
      const r = await postExec(server.url, {
        code: "print('started', flush=True)\nwhile True: pass",
        timeout_ms: 700,
      });
      expect(r.status).toBe(200);
      expect(r.json.limits_hit).toEqual(["time"]);
      expect(r.json.stdout).toBe("started\n");
      expect((r.json.error as { type: string }).type).toBe("TimeoutError");
      expect(r.json.exit_code).toBe(137);
      await stillServes();
    });

    it("turns an allocation past memory_mb into MemoryError, flagged", async () => {
      // 512 MiB: past the limit, and still an index-sized length in wasm32.
      const r = await postExec(server.url, {
        code: "x = bytearray(512 * 1024 ** 2)",
        memory_mb: 256,
      });
      expect(r.json.limits_hit).toEqual(["memory"]);
      expect((r.json.error as { type: string }).type).toBe("MemoryError");
      await stillServes();
    });

    it("keeps 1 MiB of code that prints 100 MB, and says it truncated", async () => {
      const code =
        "import sys\nchunk = 'x' * (1024 * 1024)\nfor _ in range(100): sys.stdout.write(chunk)\nprint('done', file=sys.stderr)";
      const r = await postExec(server.url, { code, timeout_ms: 60_000 });
      expect(r.json.truncated).toBe(true);
      expect(r.json.limits_hit).toEqual(["output"]);
      expect(String(r.json.stdout).length).toBe(1024 * 1024);
      expect(r.json.exit_code).toBe(0);
      await stillServes();
    });

    // pyodide has no fork at all: exec-pyodide.test.ts checks that refusal.
    it.runIf(runtime === "native")(
      "contains code that forks 10,000 times, and cleans up what it forked",
      async () => {
        const before = server.descendants().length;
        const code = [
          "import os, time",
          "n = 0",
          "for _ in range(10000):",
          "    try:",
          "        pid = os.fork()",
          "    except OSError:",
          "        break",
          "    if pid == 0:",
          "        time.sleep(120)",
          "        os._exit(0)",
          "    n += 1",
          "n",
        ].join("\n");
        const r = await postExec(server.url, { code, timeout_ms: 20_000 });
        expect(r.status).toBe(200);
        expect(r.json.result).toBeLessThan(10_000);
        await stillServes();
        // The worker's process group goes with it (the zygote kills it on reaping).
        const deadline = Date.now() + 10_000;
        while (server.descendants().length > before + 4 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(server.descendants().length).toBeLessThanOrEqual(before + 4);
      },
    );
  });

  describe("no state crosses requests", () => {
    it("removes a worker's temp dir, and what its code wrote there, before the answer", async () => {
      // No pause between the requests: the next one is sent the moment the
      // answer arrives, as a client would (native: the zygote removes the dir
      // when it reaps the worker, and the answer waits for that,
      // src/pool/execute.ts; pyodide: each instance has its own in-memory /tmp).
      for (let round = 0; round < 5; round++) {
        const first = await postExec(server.url, {
          // 400 MB touched: the worker's exit (the kernel freeing it) takes
          // long enough that a next request sent on exec:done would see the dir.
          code: "import tempfile, os\npath = os.path.join(tempfile.gettempdir(), 'left.bin')\nopen(path, 'wb').write(b'x' * 1000)\nheld = b'x' * (400 << 20)\npath",
        });
        const path = first.json.result as string;
        expect(path).toMatch(runtime === "native" ? /^\/tmp\/kiln-worker-/ : /^\/tmp\//);
        const second = await postExec(server.url, {
          code: `import os\n[os.path.exists(${JSON.stringify(path)}), os.path.exists(os.path.dirname(${JSON.stringify(path)})) and os.path.dirname(${JSON.stringify(path)}) != "/tmp"]`,
        });
        expect(second.json.result).toEqual([false, false]);
      }
    });

    it.runIf(runtime === "native")("gives each worker its own /dev/shm, gone with it", async () => {
      const first = await postExec(server.url, {
        code: "open('/dev/shm/left', 'w').write('from the last request')\nimport os\nos.listdir('/dev/shm')",
      });
      expect(first.json.result).toEqual(["left"]);
      const second = await postExec(server.url, {
        code: "import os\nos.listdir('/dev/shm')",
      });
      expect(second.json.result).toEqual([]);
      // multiprocessing's semaphores still work in it.
      const lock = await postExec(server.url, {
        code: "import multiprocessing\nlock = multiprocessing.Lock()\nlock.acquire()",
      });
      expect(lock.json).toMatchObject({ result: true, exit_code: 0 });
    });
  });

  describe("one request per worker", () => {
    it("serves each request from a fresh worker", async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await postExec(server.url, { code: "import os\nos.getpid()" });
        const worker = r.json.worker as { id: number; pid: number };
        seen.add(`${worker.id}/${worker.pid}`);
      }
      expect(seen.size).toBe(4);
    });
  });

  describe("without --token-file", () => {
    it("listens on loopback only, and says so", () => {
      expect(new URL(server.url).hostname).toBe("127.0.0.1");
      expect(server.output()).toContain("no --token-file: listening on loopback only (127.0.0.1)");
    });
  });

  describe("escapes through the API are refused", () => {
    const attempts: [string, string][] = [
      ["write outside the sandbox", "open('/root/kiln-escape', 'w').write('x')"],
      ["reach the network", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"],
      ["unshare a namespace", "import os\nos.unshare(os.CLONE_NEWUSER)"],
      [
        "mount",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nassert libc.mount(b'none', b'/mnt', b'tmpfs', 0, None) == 0, 'refused'",
      ],
      [
        "signal the supervisor",
        "import os\nos.kill(1, 9)\nimport signal\nos.kill(os.getppid(), signal.SIGKILL)",
      ],
    ];
    for (const [what, code] of attempts) {
      it(what, async () => {
        const r = await postExec(server.url, { code });
        expect(r.status).toBe(200);
        expect(r.json.exit_code).not.toBe(0);
        expect(r.json.error).toBeDefined();
        await stillServes();
      });
    }
  });

  describe("the bounded queue", () => {
    let small: ExecServer;

    beforeAll(async () => {
      small = await startExecServer(
        ["--profile", "strict", "--runtime", runtime, "--concurrency", "1", "--queue", "1"],
        { cwd: tempDir("kiln-exec-queue-") },
      );
    });

    afterAll(async () => {
      await small?.stop();
    });

    it("answers 429 with Retry-After past the queue, and every connection of 1,000 gets an answer", async () => {
      const slow = { code: "import time\ntime.sleep(1.5)\nprint('slept')" };
      const first = postExec(small.url, slow);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = postExec(small.url, slow);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await postExec(small.url, slow);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await first).json.stdout).toBe("slept\n");
      expect((await second).json.stdout).toBe("slept\n");

      const many = await Promise.all(
        Array.from({ length: 1000 }, () =>
          postExec(small.url, { code: "1" }).then((r) => r.status),
        ),
      );
      expect(many.every((s) => s === 200 || s === 429)).toBe(true);
      expect(many.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
      expect((await postExec(small.url, { code: "print(3)" })).json.stdout).toBe("3\n");
    });

    it("counts it all in /metrics, labelled with the runtime", async () => {
      const text = await (await fetch(`${small.url}/metrics`)).text();
      const exec = { runtime, route: "/v1/exec" };
      expect(metric(text, "kiln_http_requests_total", { ...exec, status: "429" })).toBeGreaterThan(
        0,
      );
      expect(metric(text, "kiln_http_requests_total", { ...exec, status: "200" })).toBeGreaterThan(
        0,
      );
      const pool = { runtime, profile: "strict" };
      expect(metric(text, "kiln_pool_spawn_seconds_count", pool)).toBeGreaterThan(0);
      expect(metric(text, "kiln_pool_size", pool)).toBeGreaterThanOrEqual(0);
      expect(metric(text, "kiln_pool_target", pool)).toBeGreaterThan(0);
      expect(metric(text, "kiln_exec_duration_seconds_count", pool)).toBeGreaterThan(0);
      expect(metric(text, "kiln_psi_available", { runtime })).toBeGreaterThanOrEqual(0);
      expect(text).toContain("kiln_pool_empty_hits_total");
    });

    it("counts limit hits", async () => {
      await postExec(small.url, { code: "while True: pass", timeout_ms: 300 });
      const text = await (await fetch(`${small.url}/metrics`)).text();
      expect(
        metric(text, "kiln_exec_limit_hits_total", { runtime, limit: "time" }),
      ).toBeGreaterThan(0);
    });
  });
});

/** A series' value in Prometheus text: the one named `name` with these labels (any order). */
function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(match[3]);
  }
  return undefined;
}
