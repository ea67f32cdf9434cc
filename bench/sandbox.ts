// `npm run bench:sandbox`: issue 12's speed table for the isolation
// profiles (BENCHMARKS.md "Issue 12: sandbox").
//
// - worker ready (fork plus sandbox), p50 and p99, per profile: measured by
//   bench/micro/sandbox_ready.py's zygote, which forks workers that apply
//   exactly what a Kiln worker applies (kiln_harness.sandbox);
// - the 2,000-trivial-test suite (the `trivial` suite of `npm run bench`)
//   under `kiln test -n 2 --isolate none|hermetic|strict`, the rounds
//   interleaved so a change in the machine's load hits every profile alike;
// - the baseline: a bubblewrap sandbox per test, `bwrap --unshare-all
//   python3 -c pass` (with the host's / bound read-only, /dev and /proc:
//   bwrap's new root is otherwise empty and has no python3), timed one
//   call at a time; the suite's estimate is 2,000 calls over the 2 cores.
//
// Prints a markdown table and saves the raw figures in bench/results/.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { benchEnv } from "./env.js";
import { markdownTable } from "./format.js";
import { digest, writeProject } from "./generators/files.js";
import { trivialProject } from "./generators/trivial.js";
import { checkKilnBuild } from "./kiln-build.js";
import { describeMachine, loadAverage, machineLine } from "./machine.js";
import { materialize, suiteDir } from "./materialize.js";
import { DEFAULT_PYTHON, KILN_CLI, REPO, RESULTS_DIR } from "./paths.js";
import { probePython } from "./python-probe.js";
import { median, percentile } from "./stats.js";

const PROFILES = ["none", "hermetic", "strict"] as const;
type Profile = (typeof PROFILES)[number];
const READY_SCRIPT = join(REPO, "bench/micro/sandbox_ready.py");
const BWRAP = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all"];

interface Options {
  rounds: number;
  workers: number;
  bwrapCalls: number;
  quick: boolean;
  python: string;
}

function parse(argv: readonly string[]): Options {
  const command = new Command()
    .option("--rounds <n>", "suite runs per profile, after one untimed warm-up", "5")
    .option("--workers <n>", "forks per profile for worker ready", "300")
    .option("--bwrap-calls <n>", "timed bwrap calls", "40")
    .option("--quick", "a 50-test suite, one round, few forks: checks it works, times nothing")
    .option("--python <path>", "interpreter with pytest", DEFAULT_PYTHON);
  command.parse(argv, { from: "user" });
  const o = command.opts<{
    rounds: string;
    workers: string;
    bwrapCalls: string;
    quick?: boolean;
    python: string;
  }>();
  const quick = o.quick === true;
  return {
    rounds: quick ? 1 : Number(o.rounds),
    workers: quick ? 10 : Number(o.workers),
    bwrapCalls: quick ? 3 : Number(o.bwrapCalls),
    quick,
    python: o.python,
  };
}

/** Fork-plus-sandbox times of one profile, in ms, from sandbox_ready.py's zygote. */
function workerReady(profile: Profile, options: Options): number[] {
  // Its zygote makes a scratch dir in $TMPDIR and leaves it: one of ours, removed.
  const tmp = mkdtempSync(join(tmpdir(), "kiln-bench-sandbox-"));
  const out = spawnSync(
    options.python,
    [READY_SCRIPT, "--zygote", profile, "--workers", String(options.workers)],
    { cwd: REPO, encoding: "utf8", env: { ...benchEnv(), TMPDIR: tmp } },
  );
  rmSync(tmp, { recursive: true, force: true });
  if (out.status !== 0) {
    throw new Error(`sandbox_ready.py --zygote ${profile} failed:\n${out.stderr}`);
  }
  return (JSON.parse(out.stdout) as { ready: number[] }).ready;
}

interface SuiteRun {
  profile: Profile;
  wallMs: number;
  summary: string;
}

function runSuite(dir: string, profile: Profile, options: Options): SuiteRun {
  const argv = [KILN_CLI, "test", "--python", options.python, "-n", "2", "-q"].concat([
    "-p",
    "no:cacheprovider",
    "--isolate",
    profile,
  ]);
  const started = performance.now();
  const out = spawnSync(process.execPath, argv, { cwd: dir, encoding: "utf8", env: benchEnv() });
  const wallMs = performance.now() - started;
  const summary = out.stdout.trimEnd().split("\n").at(-1) ?? "";
  if (out.status !== 0) {
    throw new Error(
      `kiln --isolate ${profile} exited ${out.status}:\n${out.stdout.slice(-2000)}\n${out.stderr}`,
    );
  }
  return {
    profile,
    wallMs,
    summary: summary
      .replace(/ in [\d.]+s.*$/, "")
      .replace(/=/g, "")
      .trim(),
  };
}

/** Wall time of one `bwrap ... python3 -c pass`, per call, in ms. */
function bwrapCalls(options: Options): number[] {
  const times: number[] = [];
  for (let i = 0; i < options.bwrapCalls + 1; i++) {
    const started = performance.now();
    const out = spawnSync("bwrap", [...BWRAP, options.python, "-c", "pass"], { encoding: "utf8" });
    const ms = performance.now() - started;
    if (out.error !== undefined || out.status !== 0) {
      throw new Error(
        `bwrap failed (${out.error?.message ?? out.stderr.trim()}): install bubblewrap (scripts/setup.sh does)`,
      );
    }
    if (i > 0) times.push(ms); // the first warms the page cache
  }
  return times;
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const s = (value: number) => `${(value / 1000).toFixed(2)} s`;
const vs = (value: number, reference: number) => {
  const pct = (value / reference - 1) * 100;
  return `${(value / reference).toFixed(3)}× (${pct >= 0 ? "+" : ""}${pct.toFixed(1)} %)`;
};

function main(argv: readonly string[]): number {
  const options = parse(argv);
  const build = checkKilnBuild();
  if (build.error) {
    process.stderr.write(`bench:sandbox: ${build.error}\n`);
    return 2;
  }
  const probe = probePython(options.python);
  const machine = describeMachine(probe);
  const startedAt = new Date();
  const loadBefore = loadAverage();
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const note = options.quick ? " (--quick: checks it works; times mean nothing)" : "";
  print(`## Issue 12: sandbox${note}\n`);
  print(`${startedAt.toISOString()} — ${machineLine(machine)}; load average ${loadBefore}\n`);

  const ready = Object.fromEntries(PROFILES.map((p) => [p, workerReady(p, options)])) as Record<
    Profile,
    number[]
  >;

  const size = options.quick ? { files: 5, testsPerFile: 10 } : { files: 100, testsPerFile: 20 };
  const files = trivialProject(size);
  const dir = suiteDir("trivial", options.quick);
  // `npm run bench`'s trivial suite, same files and stamp (suites.ts ownFiles).
  materialize(dir, {
    title: "",
    stamp: { files: digest(files) },
    write: (d) => writeProject(d, files),
  });
  const tests = size.files * size.testsPerFile;
  for (const profile of PROFILES) runSuite(dir, profile, options); // warm-up: caches, .kiln/
  const runs: SuiteRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const profile of PROFILES) runs.push(runSuite(dir, profile, options));
  }
  const wall = (p: Profile) => runs.filter((r) => r.profile === p).map((r) => r.wallMs);
  const bwrap = bwrapCalls(options);
  const bwrapMs = median(bwrap);
  const cores = Math.min(2, availableParallelism());
  const bwrapSuiteMs = (tests * bwrapMs) / cores;
  const loadAfter = loadAverage();

  const noneMs = median(wall("none"));
  const strictMs = median(wall("strict"));
  const rows = [
    ["strict worker ready (fork + sandbox), p50", ms(percentile(ready.strict, 50)), "≤ 4 ms"],
    ["strict worker ready, p99", ms(percentile(ready.strict, 99)), "≤ 10 ms"],
    [
      "hermetic worker ready, p50 / p99",
      `${ms(percentile(ready.hermetic, 50))} / ${ms(percentile(ready.hermetic, 99))}`,
      "",
    ],
    [
      "none worker ready (fork only), p50 / p99",
      `${ms(percentile(ready.none, 50))} / ${ms(percentile(ready.none, 99))}`,
      "",
    ],
    ...PROFILES.map((p) => [
      `${tests} trivial tests, \`kiln test -n 2 --isolate ${p}\`, median of ${options.rounds}`,
      `${s(median(wall(p)))} (${s(Math.min(...wall(p)))}–${s(Math.max(...wall(p)))})${p === "none" ? "" : `, ${vs(median(wall(p)), noneMs)} of none`}`,
      p === "strict" ? "≤ 10 % slower than none" : "",
    ]),
    [
      "baseline: `bwrap --unshare-all python3 -c pass`, per test",
      `${ms(bwrapMs)} a call (median of ${bwrap.length}); ${tests} tests on ${cores} cores ≈ ${s(bwrapSuiteMs)}, ${(bwrapSuiteMs / strictMs).toFixed(1)}× kiln strict`,
      "",
    ],
  ];
  print(markdownTable(["measure", "figure", "target"], rows));
  print(
    `\nworker ready: ${options.workers} forks per profile; load average before ${loadBefore}, after ${loadAfter}`,
  );
  print(`suite runs: ${runs.map((r) => `${r.profile} ${s(r.wallMs)} (${r.summary})`).join("; ")}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  const file = join(RESULTS_DIR, `${options.quick ? "quick-" : ""}sandbox-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ startedAt, machine, loadBefore, loadAfter, options, ready, runs, bwrap }, null, 1)}\n`,
  );
  print(`\nraw figures: ${file}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
