// Issue 11's "edit → result" latency for `kiln watch`: one test file of a
// generated project is edited, and the time from the file write to the
// watch's result line for that edit is measured (`kiln watch` on pipes: its
// plain lines). Baselines, on the same project and the same edit: a fresh
// `python -m pytest <that file>` (what pytest-watcher runs on a change) and
// `python -m pytest --lf`. Prints p50/p95 per tool; speed is never asserted.
//
// --daemon: with `kiln daemon` running for the project (started after one
// cold `kiln test`, whose run record level 0 learns from), as a user keeps it.
//
//   npm run bench:watch [-- --edits N] [-- --daemon]
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..");
const CLI = join(REPO, "dist/cli/main.js");
const PYTHON = process.env.KILN_PYTHON ?? "/usr/bin/python3";
const GEN = "/work/shared/tools/gen_project.py";
// The standard library's heavier packages stand in for numpy/pandas, which
// this machine's interpreters do not have.
const HEAVY =
  "json,email.mime.text,asyncio,decimal,http.client,xml.etree.ElementTree,unittest.mock";

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[at] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Waits for `re` in the watch's output after `from`; resolves with the time it came. */
function awaitLine(watch: { out: string; child: ChildProcess }, re: RegExp, from: number) {
  return new Promise<number>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`never saw ${re}: ${watch.out.slice(from)}`)),
      60_000,
    );
    const check = () => {
      if (!re.test(watch.out.slice(from))) return;
      clearTimeout(timer);
      watch.child.stdout?.off("data", check);
      done(performance.now());
    };
    watch.child.stdout?.on("data", check);
    check();
  });
}

async function main(): Promise<void> {
  const edits = arg("--edits", 15);
  const dir = mkdtempSync(join(tmpdir(), "kiln-watch-bench-"));
  try {
    spawnSync(
      PYTHON,
      [
        GEN,
        dir,
        "--pkgs",
        "4",
        "--mods",
        "10",
        "--tests",
        "20",
        "--cases",
        "5",
        "--heavy",
        HEAVY,
        "--fail-every",
        "17",
      ],
      { stdio: "inherit" },
    );
    const tests = readdirSync(join(dir, "tests"))
      .filter((f) => /^test_.*\.py$/.test(f))
      .sort();
    const target = `tests/${tests[0]}`;
    const env = { ...process.env, KILN_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: "1" };
    // pytest --lf needs a last run to read.
    spawnSync(PYTHON, ["-m", "pytest", "-q"], { cwd: dir, env, stdio: "ignore" });

    const daemon = process.argv.includes("--daemon");
    if (daemon) {
      spawnSync(process.execPath, [CLI, "test", "-q", "-p", "no:cacheprovider"], {
        cwd: dir,
        env,
        stdio: "ignore",
      });
      const started = spawnSync(process.execPath, [CLI, "daemon", "start"], {
        cwd: dir,
        env,
        encoding: "utf8",
      });
      if (started.status !== 0) throw new Error(`kiln daemon start failed: ${started.stderr}`);
    }
    const child = spawn(process.execPath, [CLI, "watch", "-q", "-p", "no:cacheprovider"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const watch = { out: "", child };
    child.stdout.on("data", (chunk: Buffer) => {
      watch.out += chunk.toString("utf8");
    });
    await awaitLine(watch, /kiln: watch: .* in [\d.]+s \(all tests\)\n/, 0);
    const timed = (args: string[]) => {
      const began = performance.now();
      spawnSync(PYTHON, ["-m", "pytest", ...args], { cwd: dir, env, stdio: "ignore" });
      return performance.now() - began;
    };
    // Interleaved, so that the machine's load (shared, varying) weighs on
    // each tool alike. The baselines need no edit of their own: a fresh
    // pytest compiles the edited file anyway (PYTHONDONTWRITEBYTECODE), and
    // what they write (.pytest_cache) is no change for the watch.
    const kiln: number[] = [];
    const fresh: number[] = [];
    const lf: number[] = [];
    for (let i = 0; i < edits; i++) {
      await sleep(300);
      const from = watch.out.length;
      const wrote = performance.now();
      appendFileSync(join(dir, target), `\nEDIT_${i} = ${i}\n`);
      const came = await awaitLine(
        watch,
        new RegExp(`kiln: watch: .* in [\\d.]+s \\(changed: ${target.replace(/\./g, "\\.")}\\)\\n`),
        from,
      );
      kiln.push(came - wrote);
      // The spare zygote for the next run starts as the run ends: let it.
      await sleep(300);
      fresh.push(timed(["-q", "-p", "no:cacheprovider", target]));
      lf.push(timed(["-q", "--lf"]));
    }
    child.kill("SIGTERM");
    await new Promise((done) => child.on("close", done));
    if (daemon) spawnSync(process.execPath, [CLI, "daemon", "stop"], { cwd: dir, env });
    const row = (name: string, ms: number[]) =>
      `| ${name} | ${quantile(ms, 0.5).toFixed(0)} | ${quantile(ms, 0.95).toFixed(0)} | ${ms.length} |`;
    const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO,
      encoding: "utf8",
    });
    process.stdout.write(
      `edit → result, one test file changed (${target}; 20 test files x 5 cases, ` +
        `4x10 modules, heavy imports ${HEAVY}); ${PYTHON}\n` +
        `commit ${commit.stdout.trim()}, ${new Date().toISOString()}, load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}\n\n` +
        "| tool | p50 ms | p95 ms | edits |\n|---|---|---|---|\n" +
        `${row(`kiln watch${daemon ? " + daemon" : ""} (write → result line)`, kiln)}\n` +
        `${row("fresh pytest on the file (pytest-watcher style)", fresh)}\n` +
        `${row("pytest --lf", lf)}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
