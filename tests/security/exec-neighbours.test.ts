// One request's fork bomb and /tmp filler, in a strict pool of a real
// `kiln serve`, must not take the limits of a request running beside them
// (SECURITY.md "In kiln serve"): each strict worker counts its processes
// in a user namespace of its own and writes its files in a tmpfs of its
// own (exec_sandbox.own_user_namespace, private_temp). Before, the pool's
// RLIMIT_NPROC and its /tmp were shared: the neighbour's forks got EAGAIN
// and its writes ENOSPC until the bomb ended.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServer, postExec, startExecServer } from "../helpers/exec-server.js";
import { tempDir } from "../helpers/temp.js";

// Each holder says "holding" once it has taken all it can, then holds it
// until the time limit kills it (the test does not wait for that).
const BOMB = `
import os, sys, time
n = 0
try:
    while True:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError as e:
    print('holding', n, 'processes:', e.strerror, flush=True)
time.sleep(60)
`;

const FILLER = `
import os, time
n = 0
try:
    while True:
        with open(os.path.join(os.environ['TMPDIR'], 'f%d' % n), 'wb') as f:
            f.write(b'x' * (1 << 20))
        n += 1
except OSError as e:
    print('holding', n, 'MiB:', e.strerror, flush=True)
time.sleep(60)
`;

// The neighbour: while the bomb holds its processes (it counts them in
// /proc, which shows the pool's PID namespace, so the test cannot pass
// after the bomb is gone), it starts 20 child processes and writes 16 MiB.
const NEIGHBOUR = `
import os, subprocess
held = sum(1 for name in os.listdir('/proc') if name.isdigit())
outs = [subprocess.run(['/bin/echo', str(i)], capture_output=True, text=True).stdout for i in range(20)]
for i in range(4):
    with open(os.path.join(os.environ['TMPDIR'], 'mine%d' % i), 'wb') as f:
        f.write(b'y' * (4 << 20))
written = sum(os.path.getsize(os.path.join(os.environ['TMPDIR'], 'mine%d' % i)) for i in range(4))
{'held': held, 'children': ''.join(outs).split(), 'written': written}
`;

/** POST with ?stream=1; resolves once a stdout line containing `word` arrives. */
async function streamUntil(
  url: string,
  body: Record<string, unknown>,
  word: string,
): Promise<string> {
  const response = await fetch(`${url}/v1/exec?stream=1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no response body");
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the request ended before it said ${word}:\n${text}`);
    text += decoder.decode(value, { stream: true });
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const event = JSON.parse(line) as { type: string; text?: string };
      if (event.type === "stdout" && event.text?.includes(word)) {
        // The rest of its answer is read (and dropped) in the background.
        void (async () => {
          while (!(await reader.read()).done) {}
        })().catch(() => {});
        return event.text;
      }
    }
    text = text.slice(text.lastIndexOf("\n") + 1);
  }
}

describe("a strict pool's requests keep their own limits", () => {
  let server: ExecServer;

  beforeAll(async () => {
    server = await startExecServer(["--profile", "strict", "--pool-floor", "4"], {
      cwd: tempDir("kiln-exec-neighbours-"),
    });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("runs a request correctly beside a fork bomb and a /tmp filler", async () => {
    const [bomb, filler] = await Promise.all([
      streamUntil(server.url, { code: BOMB, timeout_ms: 20_000 }, "holding"),
      streamUntil(server.url, { code: FILLER, timeout_ms: 20_000 }, "holding"),
    ]);
    // Each was stopped at its own worker's limit (EAGAIN, ENOSPC).
    expect(bomb).toMatch(/holding \d+ processes: Resource temporarily unavailable/);
    expect(filler).toMatch(/holding \d+ MiB: No space left on device/);
    const held = Number(/holding (\d+)/.exec(bomb)?.[1]);

    const beside = await postExec(server.url, { code: NEIGHBOUR, timeout_ms: 15_000 });
    expect(beside.status).toBe(200);
    expect(beside.json.error, JSON.stringify(beside.json)).toBeUndefined();
    const result = beside.json.result as { held: number; children: string[]; written: number };
    expect(result.held).toBeGreaterThanOrEqual(held);
    expect(result.children).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(result.written).toBe(16 << 20);

    const next = await postExec(server.url, { code: "print(1)" });
    expect(next.json).toMatchObject({ stdout: "1\n", exit_code: 0 });
  }, 60_000);
});
