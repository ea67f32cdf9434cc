// Issue 15's shard imbalance: a generated suite is run once to record its
// durations, then as N shards (`kiln test --shard I/N`, one after another
// on this machine, each as a CI machine would run it), and the shards'
// records are merged (`kiln report --merge`). Prints, per shard, the wall
// time and the summed test time of its run record, and the imbalance
// (max - min) as a share of the total. Speed is never asserted.
//
//   npm run bench:shard [-- --shards 2,4]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..");
const CLI = join(REPO, "dist/cli/main.js");
const PYTHON = process.env.KILN_PYTHON ?? "/usr/bin/python3";
const GEN = "/work/shared/tools/gen_project.py";
const HEAVY =
  "json,email.mime.text,asyncio,decimal,http.client,xml.etree.ElementTree,unittest.mock";

function kiln(args: string[], cwd: string): { ms: number; code: number | null } {
  const start = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, KILN_PYTHON: PYTHON },
    stdio: "ignore",
  });
  return { ms: performance.now() - start, code: r.status };
}

function testSeconds(runDir: string): number {
  let total = 0;
  for (const line of readFileSync(join(runDir, "results.jsonl"), "utf8").split("\n")) {
    if (line) total += (JSON.parse(line) as { duration: number }).duration;
  }
  return total;
}

function latest(dir: string): string {
  return realpathSync(join(dir, ".kiln", "runs", "latest"));
}

/**
 * A suite whose tests take real, uneven time (seeded sleeps, 5-80 ms): the
 * generated import-heavy suite's tests take microseconds, where recorded
 * durations are noise and the split cannot matter.
 */
function sleepySuite(dir: string): number {
  let seed = 15;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  mkdirSync(join(dir, "tests"));
  let total = 0;
  for (let m = 0; m < 12; m++) {
    const lines = ["import time", ""];
    for (let t = 0; t < 8; t++) {
      const ms = Math.round(5 + next() * 75);
      total += ms;
      lines.push(`def test_{t}():`.replace("{t}", String(t)), `    time.sleep(${ms / 1000})`, "");
    }
    writeFileSync(join(dir, "tests", `test_m${m}.py`), lines.join("\n"));
  }
  return total / 1000;
}

function bench(dir: string, label: string, counts: number[]): void {
  const full = kiln(["test", "-n", "1", "-q"], dir);
  const fullRun = latest(dir);
  console.log(`${label}, load ${loadavg()[0]?.toFixed(2)}`);
  console.log(
    `  full run -n 1: ${full.ms.toFixed(0)} ms wall, ${testSeconds(fullRun).toFixed(2)} s of tests`,
  );
  for (const n of counts) {
    const walls: number[] = [];
    const tests: number[] = [];
    const runs: string[] = [];
    for (let i = 1; i <= n; i++) {
      const r = kiln(["test", "-n", "1", "-q", "--shard", `${i}/${n}`], dir);
      walls.push(r.ms);
      runs.push(latest(dir));
      tests.push(testSeconds(latest(dir)));
    }
    const spread = (values: number[]) => {
      const total = values.reduce((a, b) => a + b, 0);
      return (((Math.max(...values) - Math.min(...values)) / total) * 100).toFixed(1);
    };
    const merged = kiln(["report", "--merge", ...runs, "--out", join(dir, `merged-${n}`)], dir);
    console.log(
      `  ${n} shards: wall ms [${walls.map((w) => w.toFixed(0)).join(", ")}] (max-min) ${spread(walls)}% of the sum; ` +
        `test s [${tests.map((t) => t.toFixed(3)).join(", ")}] (max-min) ${spread(tests)}%; merge exit ${merged.code} in ${merged.ms.toFixed(0)} ms`,
    );
  }
}

function main(): void {
  const at = process.argv.indexOf("--shards");
  const counts = (at < 0 ? "2,4" : (process.argv[at + 1] ?? "2,4")).split(",").map(Number);
  const generated = mkdtempSync(join(tmpdir(), "kiln-shard-bench-"));
  const sleepy = mkdtempSync(join(tmpdir(), "kiln-shard-sleepy-"));
  try {
    spawnSync(PYTHON, [
      GEN,
      generated,
      ...["--pkgs", "4", "--mods", "10", "--tests", "20", "--cases", "5"],
      ...["--heavy", HEAVY, "--fail-every", "0"],
    ]);
    bench(
      generated,
      "generated import-heavy suite (4 pkgs x 10 mods x 20 tests x 5 cases)",
      counts,
    );
    const seconds = sleepySuite(sleepy);
    bench(
      sleepy,
      `uneven suite (96 tests sleeping 5-80 ms, ${seconds.toFixed(2)} s in all)`,
      counts,
    );
  } finally {
    rmSync(generated, { recursive: true, force: true });
    rmSync(sleepy, { recursive: true, force: true });
  }
}

main();
