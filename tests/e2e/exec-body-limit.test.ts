// A chunked request body (no Content-Length) past `--body-limit`: the
// client must read a 413, not lose the connection to a reset, whether it
// stops sending on the answer or keeps going to the end. Through node:http,
// as a client would send it; a real `kiln serve` on a real socket, under
// both runtimes (issue 14: the exec suite runs under native and pyodide).
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { tempDir } from "../helpers/temp.js";

const LIMIT = 256 * 1024;

interface Answer {
  status: number;
  body: string;
  sent: number;
}

/** POSTs `total` bytes chunked, 64 KiB at a time; `stopOnAnswer` ends the upload at the response. */
function postChunked(server: ExecServer, total: number, stopOnAnswer: boolean): Promise<Answer> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(
      {
        host: hostname,
        port: Number(port),
        method: "POST",
        path: "/v1/exec",
        headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked" },
      },
      (res) => {
        answered = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (text: string) => {
          body += text;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sent }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const chunk = Buffer.alloc(64 * 1024, " ");
    req.write('{"code": "1"');
    const pump = () => {
      while (sent < total && !(stopOnAnswer && answered)) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end("}");
    };
    pump();
  });
}

describe.each(["native", "pyodide"] as const)(
  "a chunked body past the cap, runtime %s",
  (runtime) => {
    let server: ExecServer;

    beforeAll(async () => {
      server = await startExecServer(
        ["--profile", "strict", "--runtime", runtime, "--body-limit", String(LIMIT)],
        { cwd: tempDir("kiln-exec-body-") },
      );
    });

    afterAll(async () => {
      await server?.stop();
    });

    it("gets a 413 the client reads, while it is still sending", async () => {
      const answer = await postChunked(server, 8 * 1024 * 1024, true);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: "too large" });
      expect(JSON.parse(answer.body).message).toContain(String(LIMIT));
    });

    it("gets a 413 the client reads, when it sends all of it", async () => {
      const answer = await postChunked(server, 4 * 1024 * 1024, false);
      expect(answer.status).toBe(413);
      // The answer may arrive while the client is still writing the rest
      // (the server reads and drops it): what matters is that the client went
      // on sending well past the cap and still read the 413, with no reset.
      expect(answer.sent).toBeGreaterThan(4 * LIMIT);
    });

    it("still takes a chunked body under the cap, and the next request", async () => {
      const answer = await postChunked(server, 64 * 1024, false);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ result: 1, exit_code: 0 });
      expect((await postExec(server.url, { code: "print(2)" })).json.stdout).toBe("2\n");
    });
  },
);
