// What the exec benches share: the repo's CLI, flags, percentiles, a
// started `kiln serve`, and POST /v1/exec over a keep-alive agent.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");

const args = process.argv.slice(2);
/** The value after `--name` on the command line, else the fallback. */
export const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};

/** The p-th percentile (nearest rank) of the values. */
export const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
export const ms = (v) => `${v.toFixed(2)} ms`;
/** One printed line: p50 and p99 of the values. */
export const line = (label, values) =>
  console.log(
    `${label}: p50 ${ms(pct(values, 50))}  p99 ${ms(pct(values, 99))}  (n=${values.length})`,
  );
export const sleep = (t) => new Promise((r) => setTimeout(r, t));
export const rssMb = (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").trim();

/** `kiln serve --port 0 ...extra` in cwd; resolves once it prints its URL. */
export function startServer(cwd, extra = []) {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...extra], {
    cwd,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((done, fail) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) done({ child, url: m[1] });
    });
    child.on("close", (code) => fail(new Error(`kiln serve exited ${code}: ${out}`)));
  });
}

/** SIGTERM, and wait for it to end. */
export async function stopServer(child) {
  child.kill("SIGTERM");
  await new Promise((r) => child.on("close", r));
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** POST /v1/exec: the status and the body's text. */
export function post(url, body) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((done, fail) => {
    const req = request(`${url}/v1/exec`, {
      method: "POST",
      agent,
      headers: { "Content-Type": "application/json", "Content-Length": data.length },
    });
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", fail);
    req.end(data);
  });
}

/**
 * Run `pass` on one worker the caller already holds, through execute():
 * the pool's acquire is pointed at it for that one call.
 */
export async function runOn(pool, worker, execute) {
  const original = pool.acquire;
  pool.acquire = () => Promise.resolve(worker);
  try {
    await execute(pool, { type: "exec:run", code: "pass" }, Buffer.alloc(0), {
      timeoutMs: 5000,
      outputCap: 1 << 20,
    });
  } finally {
    pool.acquire = original;
  }
}
