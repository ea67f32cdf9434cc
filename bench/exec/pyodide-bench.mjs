#!/usr/bin/env node
// Issue 14's figures for the pyodide runtime, printed (never asserted):
// building the snapshot (once), booting an instance from it, acquire from a
// warm pool, print(1) end to end over HTTP (paced so the pool stays warm,
// and back to back), memory per idle instance, and the baseline: a cold
// loadPyodide() per request.
//
//   npm run build && node bench/exec/pyodide-bench.mjs [--n 40] [--floor 4] [--wheel W.whl ...]
//
// --wheel (repeatable): the snapshot and the server load these wheels, so
// the boot figures include writing their files back into each instance.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import {
  flag,
  line,
  loadavg,
  ms,
  post as postRaw,
  REPO,
  rssMb,
  runOn,
  sleep,
  startServer,
  stopServer,
} from "./common.mjs";

const N = Number(flag("--n", "40"));
const FLOOR = Number(flag("--floor", "4"));
const args = process.argv.slice(2);
const WHEELS = args.flatMap((a, i) => (args[i - 1] === "--wheel" ? [resolve(a)] : []));
const post = async (url, body) => JSON.parse((await postRaw(url, body)).body);

const dir = mkdtempSync(join(tmpdir(), "kiln-pyodide-bench-"));
const { ensureSnapshot, pyodideVersion } = await import(join(REPO, "dist/pyodide/snapshot.js"));
const { PyodidePool } = await import(join(REPO, "dist/pyodide/pyodide-pool.js"));
const { resolveWheels } = await import(join(REPO, "dist/pyodide/wheels.js"));
const { execute } = await import(join(REPO, "dist/pool/execute.js"));
try {
  console.log(`pyodide ${pyodideVersion()}, load: ${loadavg()}`);
  let t = performance.now();
  const wheels = resolveWheels(WHEELS, dir);
  if (wheels.length)
    console.log(`wheels: ${wheels.map((w) => `${w.name} ${w.version}`).join(", ")}`);
  const snapshotPath = await ensureSnapshot(dir, [], wheels);
  console.log(`snapshot build (once, cached under .kiln/pyodide): ${ms(performance.now() - t)}`);

  // Boot from the snapshot, and acquire from a warm pool, in process.
  const boots = [];
  const spawnSeconds = [];
  const pool = new PyodidePool({
    profile: "strict",
    snapshotPath,
    sizing: { floor: FLOOR, ceiling: FLOOR * 2 },
    observer: { spawned: (_p, s) => spawnSeconds.push(s * 1000), emptyHit() {}, sized() {} },
  });
  // USAP refill tops up only once half the target is gone: warm means an
  // idle instance is there and none is booting (which would share the CPU).
  const warm = async () => {
    while (pool.size.idle < 1 || pool.size.starting > 0) await sleep(20);
  };
  await warm();
  const acquire = [];
  for (let i = 0; i < N; i++) {
    await warm();
    t = performance.now();
    const instance = await pool.acquire();
    acquire.push(performance.now() - t);
    boots.push(await instance.ready);
    await runOn(pool, instance, execute);
  }
  line("boot from snapshot (loadPyodide({_loadSnapshot}) in the thread)", boots);
  line("instance spawn (new thread to ready)", spawnSeconds);
  line("acquire from a warm pool", acquire);
  await pool.stop();

  // End to end over HTTP, and memory per idle instance.
  const server = (floor) =>
    startServer(dir, [
      ...["--runtime", "pyodide", "--pool-floor", String(floor)],
      ...WHEELS.flatMap((w) => ["--wheel", w]),
    ]);
  // Memory per idle instance: a server holding one idle instance against
  // one holding FLOOR + 1 (floor 0 still keeps one: the target is at least
  // 1, sizing.ts), both fully booted.
  const booted = async (url, idle) => {
    for (;;) {
      const body = await (await fetch(`${url}/readyz`)).json();
      if (body.pools.strict.idle >= idle && body.pools.strict.starting === 0) return;
      await sleep(20);
    }
  };
  const one = await server(1);
  await booted(one.url, 1);
  await sleep(500);
  const rssOne = rssMb(one.child.pid);
  await stopServer(one.child);
  const { child, url } = await server(FLOOR + 1);
  await booted(url, FLOOR + 1);
  await sleep(500);
  const rssFull = rssMb(child.pid);
  console.log(
    `memory per idle instance: ${((rssFull - rssOne) / FLOOR).toFixed(0)} MB (server RSS ${rssOne.toFixed(0)} MB with 1 idle instance, ${rssFull.toFixed(0)} MB with ${FLOOR + 1})`,
  );
  const ready = () => booted(url, 1);
  const paced = [];
  for (let i = 0; i < N; i++) {
    await ready();
    t = performance.now();
    const r = await post(url, { code: "print(1)" });
    paced.push(performance.now() - t);
    if (r.stdout !== "1\n") throw new Error(`print(1) answered ${JSON.stringify(r)}`);
  }
  line("print(1) end to end, warm pool (paced: the pool refilled before each)", paced);
  const burst = [];
  for (let i = 0; i < N; i++) {
    t = performance.now();
    await post(url, { code: "print(1)" });
    burst.push(performance.now() - t);
  }
  line("print(1) end to end, back to back (the pool drains: boots show)", burst);
  await stopServer(child);

  // Baseline: a cold loadPyodide() per request, each in a fresh thread.
  const cold = [];
  const source = `
    const { parentPort } = await import("node:worker_threads");
    const { loadPyodide } = await import(${JSON.stringify(join(REPO, "node_modules/pyodide/pyodide.mjs"))});
    const py = await loadPyodide({ indexURL: ${JSON.stringify(join(REPO, "node_modules/pyodide/"))}, stdout: () => {} });
    py.runPython("print(1)");
    parentPort.postMessage("done");`;
  for (let i = 0; i < Math.min(N, 5); i++) {
    t = performance.now();
    const w = new Worker(`(async () => {${source}})()`, { eval: true, stdout: true });
    await new Promise((r) => w.once("message", r));
    cold.push(performance.now() - t);
    await w.terminate();
  }
  line("baseline: cold loadPyodide() + print(1) per request", cold);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
