#!/usr/bin/env node
// Issue 13's exec-service figures, printed (never asserted): print(1)
// latency at concurrency 1, throughput at concurrency 16, pool acquire,
// workspace import vs warm .pyc, the python3 -c (and bwrap) baselines, and
// a mixed soak (lost responses, leaked processes, server RSS).
//
//   npm run bench:exec [-- --profile strict] [--soak 10000] [--floor 4]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CLI,
  flag,
  line,
  loadavg,
  ms,
  pct,
  post,
  REPO,
  rssMb,
  runOn,
  startServer as serve,
  stopServer,
} from "./common.mjs";

const PROFILE = flag("--profile", "strict");
const SOAK = Number(flag("--soak", "10000"));
const FLOOR = flag("--floor", "4");
const PYTHON = process.env.KILN_PYTHON ?? "python3";
const startServer = (cwd, extra) => serve(cwd, ["--profile", PROFILE, ...extra]);

async function timed(url, body) {
  const t = performance.now();
  const r = await post(url, body);
  return { ms: performance.now() - t, ...r };
}

async function concurrent(url, n, concurrency, bodyFor) {
  let next = 0;
  const results = [];
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results.push(
        await timed(url, bodyFor(i)).catch((e) => ({ ms: 0, status: -1, body: String(e) })),
      );
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { results, seconds: (performance.now() - t) / 1000 };
}

function descendants(root) {
  const kids = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(root);
  return out;
}

function baseline(label, command, argv, n = 40) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = spawnSync(command, argv, { encoding: "utf8" });
    if (r.status !== 0)
      return console.log(`${label}: failed (${r.stderr.trim().split("\n").at(-1)})`);
    times.push(performance.now() - t);
  }
  line(`${label} per request`, times);
}

const dir = mkdtempSync(join(tmpdir(), "kiln-exec-bench-"));
try {
  console.log(`profile ${PROFILE}, load: ${loadavg()}`);
  // A 20-module package for the workspace import.
  const pkg = join(dir, "ws", "pkg20");
  mkdirSync(pkg, { recursive: true });
  const body = Array.from({ length: 60 }, (_, i) => `def f${i}(x):\n    return x + ${i}\n`).join(
    "\n",
  );
  writeFileSync(
    join(pkg, "__init__.py"),
    Array.from({ length: 19 }, (_, i) => `from . import m${i}\n`).join(""),
  );
  for (let i = 0; i < 19; i++) writeFileSync(join(pkg, `m${i}.py`), body);
  spawnSync(process.execPath, [CLI, "workspace", "push", "bench", join(dir, "ws")], { cwd: dir });

  const { child, url } = await startServer(dir, [
    "--store",
    "sqlite",
    "--pool-floor",
    FLOOR,
    "--concurrency",
    "16",
  ]);
  for (let i = 0; i < 50; i++) await post(url, { code: "print(1)" });

  const c1 = [];
  for (let i = 0; i < 300; i++) {
    c1.push((await timed(url, { code: "print(1)" })).ms);
    await new Promise((r) => setTimeout(r, 5)); // a request at a time, the pool refilled between them
  }
  line("print(1) end to end, concurrency 1", c1);

  const c16 = await concurrent(url, 1000, 16, () => ({ code: "print(1)" }));
  const ok16 = c16.results.filter((r) => r.status === 200).length;
  console.log(
    `throughput, concurrency 16: ${(ok16 / c16.seconds).toFixed(0)} req/s (${ok16}/1000 ok in ${c16.seconds.toFixed(2)} s; p50 ${ms(
      pct(
        c16.results.map((r) => r.ms),
        50,
      ),
    )})`,
  );

  const probe =
    "import sys, time\nt = time.perf_counter()\nimport pkg20\n(time.perf_counter() - t) * 1000";
  const ws = [];
  for (let i = 0; i < 30; i++)
    ws.push(JSON.parse((await post(url, { workspace: "bench", code: probe })).body).result);
  const disk = [];
  const diskCode = `import sys, time\nsys.path.insert(0, ${JSON.stringify(join(dir, "ws"))})\nt = time.perf_counter()\nimport pkg20\nprint((time.perf_counter() - t) * 1000)`;
  for (let i = 0; i < 30; i++)
    disk.push(Number(spawnSync(PYTHON, ["-c", diskCode], { encoding: "utf8" }).stdout));
  console.log(
    `import of a 20-module package: workspace p50 ${ms(pct(ws, 50))}, warm .pyc on disk p50 ${ms(pct(disk, 50))} (${(pct(ws, 50) / pct(disk, 50)).toFixed(2)}x)`,
  );

  const metrics = await (await fetch(`${url}/metrics`)).text();
  const spawnCount = /kiln_pool_spawn_seconds_count\{[^}]*\} (\d+)/.exec(metrics)?.[1];
  const empty = /kiln_pool_empty_hits_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? "0";
  console.log(`pool: ${spawnCount} spawns, ${empty} empty-pool hits so far`);

  // Soak: good, failing and limit-breaking requests mixed, concurrency 32.
  const procsBefore = descendants(child.pid).length;
  const rssStart = rssMb(child.pid);
  const kinds = [
    { code: "print(1)" },
    { code: "1/0" },
    { code: "import sys; sys.exit(2)" },
    { code: "while True: pass", timeout_ms: 200 },
    { code: "x = bytearray(2 * 1024 ** 3)", memory_mb: 128 },
    { code: "print('x' * 3_000_000)" },
  ];
  const soak = await concurrent(url, SOAK, 32, (i) => kinds[i % kinds.length]);
  const statuses = {};
  for (const r of soak.results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const lost = SOAK - soak.results.filter((r) => r.status === 200 || r.status === 429).length;
  await new Promise((r) => setTimeout(r, 1000));
  const procsAfter = descendants(child.pid).length;
  console.log(
    `soak ${SOAK} mixed at concurrency 32: ${soak.seconds.toFixed(1)} s, statuses ${JSON.stringify(statuses)}, lost ${lost}, processes ${procsBefore} -> ${procsAfter}, server RSS ${rssStart.toFixed(0)} MB -> ${rssMb(child.pid).toFixed(0)} MB`,
  );
  await stopServer(child);

  // Pool acquire, in process: the time acquire() takes with an idle worker waiting.
  const { Pool } = await import(join(REPO, "dist/pool/pool.js"));
  const { execute } = await import(join(REPO, "dist/pool/execute.js"));
  const scratch = mkdtempSync(join(tmpdir(), "kiln-exec-bench-pool-"));
  const pool = await Pool.start({
    profile: PROFILE,
    python: PYTHON,
    scratchDir: scratch,
    sizing: { floor: 4 },
  });
  await new Promise((r) => setTimeout(r, 500));
  const acquire = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const worker = await pool.acquire();
    acquire.push(performance.now() - t);
    await runOn(pool, worker, execute);
    await new Promise((r) => setTimeout(r, 10));
  }
  line("pool acquire", acquire);
  await pool.stop();
  rmSync(scratch, { recursive: true, force: true });

  baseline("baseline python3 -c 'print(1)'", PYTHON, ["-c", "print(1)"]);
  const bwrap = spawnSync("which", ["bwrap"], { encoding: "utf8" }).stdout.trim();
  if (bwrap) {
    baseline("baseline bwrap python3 -c", bwrap, [
      "--ro-bind",
      "/",
      "/",
      "--unshare-all",
      "--die-with-parent",
      PYTHON,
      "-c",
      "print(1)",
    ]);
  } else {
    console.log("baseline bwrap: not installed here");
  }
  console.log(`load after: ${loadavg()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
