// `kiln serve` over real HTTP on a real socket, strict profile, under both
// runtimes (native processes, pyodide Wasm instances; issue 14): what a
// request gets back (stdout, result, error with source lines, exit codes),
// the NDJSON stream, and the service's own refusals (400, 401, 413).
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { tempDir } from "../helpers/temp.js";

const TOKEN = "s3cret-token-for-tests";
const auth = { Authorization: `Bearer ${TOKEN}` };

describe.each(["native", "pyodide"] as const)("runtime %s", (runtime) => {
  let server: ExecServer;

  beforeAll(async () => {
    const dir = tempDir("kiln-exec-api-");
    const tokenFile = join(dir, "tokens");
    writeFileSync(tokenFile, `# tokens\nother-token\n${TOKEN}\n`);
    server = await startExecServer(
      ["--profile", "strict", "--runtime", runtime, "--token-file", tokenFile],
      {
        cwd: dir,
        env: { KILN_SERVE_TOKENS: "env-token", SERVER_SECRET: "do-not-leak" },
      },
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe("POST /v1/exec", () => {
    it("runs print(1) and returns its stdout", async () => {
      const r = await postExec(server.url, { code: "print(1)" }, auth);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ stdout: "1\n", stderr: "", exit_code: 0, limits_hit: [] });
      expect(r.json.result).toBeUndefined();
      expect(r.json.worker).toMatchObject({ profile: "strict", runtime });
    });

    it("returns the last expression's value as JSON, or its repr", async () => {
      const json = await postExec(server.url, { code: "x = 20\n{'a': [x, x + 1]}" }, auth);
      expect(json.json.result).toEqual({ a: [20, 21] });
      const repr = await postExec(
        server.url,
        { code: "class C:\n  def __repr__(self): return 'C!'\nC()" },
        auth,
      );
      expect(repr.json.result).toBe("C!");
    });

    it("reports an error with its traceback and source lines, as a 200", async () => {
      const r = await postExec(server.url, { code: "def f():\n    return 1 / 0\nf()" }, auth);
      expect(r.status).toBe(200);
      expect(r.json.exit_code).toBe(1);
      const error = r.json.error as { type: string; message: string; traceback: string };
      expect(error.type).toBe("ZeroDivisionError");
      expect(error.message).toBe("division by zero");
      expect(error.traceback).toContain('File "<string>", line 2, in f');
      expect(error.traceback).toContain("return 1 / 0");
      expect(error.traceback).not.toContain("kiln_harness");
    });

    it("gives SystemExit's status like python -c", async () => {
      const status = async (code: string) => (await postExec(server.url, { code }, auth)).json;
      expect((await status("import sys; sys.exit(3)")).exit_code).toBe(3);
      expect((await status("raise SystemExit")).exit_code).toBe(0);
      const message = await status("import sys; sys.exit('bye')");
      expect(message.exit_code).toBe(1);
      expect(message.stderr).toBe("bye\n");
    });

    it("calls module + function with args", async () => {
      const r = await postExec(
        server.url,
        { module: "math", function: "hypot", args: [3, 4] },
        auth,
      );
      expect(r.json.result).toBe(5);
    });

    it("gives the code none of the server's environment (its tokens, its secrets)", async () => {
      const r = await postExec(server.url, { code: "import os\nsorted(os.environ)" }, auth);
      expect(r.json.result).not.toContain("KILN_SERVE_TOKENS");
      expect(r.json.result).not.toContain("SERVER_SECRET");
      const env = await postExec(server.url, { code: "1" }, { Authorization: "Bearer env-token" });
      expect(env.status).toBe(200);
    });

    it("passes stdin and env", async () => {
      const r = await postExec(
        server.url,
        {
          code: "import os\nprint(input(), os.environ['GREETING'])",
          stdin: "hello\n",
          env: { GREETING: "hi" },
        },
        auth,
      );
      expect(r.json.stdout).toBe("hello hi\n");
    });

    it("streams typed NDJSON lines with ?stream=1", async () => {
      const response = await fetch(`${server.url}/v1/exec?stream=1`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...auth },
        body: JSON.stringify({
          code: "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7",
        }),
      });
      expect(response.headers.get("content-type")).toContain("application/x-ndjson");
      const lines = (await response.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      // A stream event is a chunk as the worker sent it, not a line:
      // stderr is unbuffered, so print(..., file=sys.stderr) may come as
      // "err" and "\n" (its two writes) when they reach the server apart.
      const text = (stream: string) =>
        lines
          .filter((l) => l.type === stream)
          .map((l) => l.text)
          .join("");
      expect(text("stdout")).toBe("out\n");
      expect(text("stderr")).toBe("err\n");
      expect(lines).toContainEqual({ type: "result", value: 42 });
      expect(lines.at(-1)).toMatchObject({ type: "end", exit_code: 0 });
    });
  });

  describe("the order of stdout and stderr", () => {
    const streamed = async (code: string) => {
      const response = await fetch(`${server.url}/v1/exec?stream=1`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...auth },
        body: JSON.stringify({ code }),
      });
      const events = (await response.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; text?: string; exit_code?: number });
      expect(events.at(-1)).toMatchObject({ type: "end", exit_code: 0 });
      // Chunks may hold several lines or part of one: the lines of each
      // event, tagged with its stream, in the order they came.
      const lines: string[] = [];
      const partial = { stdout: "", stderr: "" };
      for (const event of events) {
        if (event.type !== "stdout" && event.type !== "stderr") continue;
        const text = partial[event.type] + (event.text ?? "");
        const parts = text.split("\n");
        partial[event.type] = parts.pop() ?? "";
        for (const part of parts) lines.push(`${event.type} ${part}`);
      }
      return lines;
    };

    it("keeps print() and print(file=sys.stderr) in the order the code wrote them", async () => {
      const code = [
        "import sys",
        "for i in range(300):",
        "    print('out', i)",
        "    print('err', i, file=sys.stderr)",
        "    if i % 7 == 0:",
        "        print('err again', i, file=sys.stderr)",
        "print('partial', end=' ')",
        "print('E', file=sys.stderr)",
        "print('rest')",
      ].join("\n");
      const expected: string[] = [];
      for (let i = 0; i < 300; i++) {
        expected.push(`stdout out ${i}`, `stderr err ${i}`);
        if (i % 7 === 0) expected.push(`stderr err again ${i}`);
      }
      // The partial stdout line is sent before the stderr write after it.
      expected.push("stderr E", "stdout partial rest");
      const lines = await streamed(code);
      expect(lines.join("\n")).toBe(expected.join("\n"));
    });

    it.skipIf(runtime === "pyodide")(
      "keeps raw fd writes and child processes in their place after Python's writes",
      async () => {
        const code = [
          "import os, subprocess, sys",
          "for i in range(20):",
          "    print('py', i)",
          "    os.write(1, b'raw %d\\n' % i)",
          "    print('py err', i, file=sys.stderr)",
          "    subprocess.run(['/bin/sh', '-c', 'echo child %d' % i])",
          "    print('py mid', i)",
          "    os.write(2, b'raw err %d\\n' % i)",
          "    print('py end', i)",
          // A child forked by the code has no relay thread: its prints go
          // to the pipes, and the parent forwards them in their place.
          "pid = os.fork()",
          "if pid == 0:",
          "    print('forked child')",
          "    sys.stdout.flush()",
          "    os._exit(0)",
          "os.waitpid(pid, 0)",
          "print('parent after')",
        ].join("\n");
        const expected: string[] = [];
        for (let i = 0; i < 20; i++) {
          expected.push(
            `stdout py ${i}`,
            `stdout raw ${i}`,
            `stderr py err ${i}`,
            `stdout child ${i}`,
            `stdout py mid ${i}`,
            `stderr raw err ${i}`,
            `stdout py end ${i}`,
          );
        }
        expected.push("stdout forked child", "stdout parent after");
        const lines = await streamed(code);
        // Each raw write is followed by a Python-level write, which sends
        // what waits in the pipes first. A raw stdout write (the child's
        // echo) followed directly by a raw stderr one is the case README's
        // "Order of stdout and stderr" leaves unordered (the relay thread
        // may drain the stderr pipe first; seen once in CI), so a print
        // stands between them.
        expect(lines.join("\n")).toBe(expected.join("\n"));
      },
    );
  });

  describe("refusals", () => {
    it("401 without a token or with a wrong one; the right one passes", async () => {
      expect((await postExec(server.url, { code: "1" })).status).toBe(401);
      expect(
        (await postExec(server.url, { code: "1" }, { Authorization: "Bearer wrong" })).status,
      ).toBe(401);
      expect(
        (await postExec(server.url, { code: "1" }, { Authorization: `Bearer ${TOKEN}x` })).status,
      ).toBe(401);
      expect(
        (await postExec(server.url, { code: "1" }, { Authorization: "Bearer other-token" })).status,
      ).toBe(200);
    });

    it("400 for bad JSON and for a request that is neither code nor module+function", async () => {
      expect((await postExec(server.url, "{not json", auth)).status).toBe(400);
      const both = await postExec(server.url, { code: "1", module: "m", function: "f" }, auth);
      expect(both.status).toBe(400);
      expect(String(both.json.message)).toContain("either `code` or `module`");
      expect((await postExec(server.url, { code: "1", timeout_ms: -5 }, auth)).status).toBe(400);
      expect((await postExec(server.url, { code: "1", profile: "none" }, auth)).status).toBe(400);
    });

    it("413 for a 50 MB body, and still answers the next request", async () => {
      // A raw socket, not fetch or node:http: the server answers 413 from the
      // Content-Length and closes, and an HTTP client that hits EPIPE while
      // still writing drops the connection before it reads the answer. Here
      // the answer is read whatever happens to the writes.
      const total = 50 * 1024 * 1024;
      const { hostname, port } = new URL(server.url);
      const status = await new Promise<number>((resolve, reject) => {
        const socket = connect(Number(port), hostname);
        let answer = "";
        socket.on("data", (data: Buffer) => {
          answer += data.toString("latin1");
          const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
          if (match?.[1]) {
            resolve(Number(match[1]));
            socket.destroy();
          }
        });
        socket.on("error", (error: NodeJS.ErrnoException) => {
          if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
        });
        socket.on("close", () => resolve(answer ? -1 : 0));
        socket.write(
          `POST /v1/exec HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
            `Authorization: Bearer ${TOKEN}\r\nContent-Length: ${total}\r\n\r\n`,
        );
        const chunk = Buffer.alloc(1024 * 1024, "a");
        let sent = 0;
        const pump = () => {
          while (sent < total && !socket.destroyed) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once("drain", pump);
          }
        };
        pump();
      });
      expect(status).toBe(413);
      expect((await postExec(server.url, { code: "print(2)" }, auth)).json.stdout).toBe("2\n");
    });

    it("healthz and readyz need no token", async () => {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true });
    });
  });
});
