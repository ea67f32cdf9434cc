// `kiln (daemon)`: `kiln test` through a warm `kiln daemon` (issue 11). The
// daemon is started right before that command's first run (by then the
// suite's cold Kiln runs have left a run record, from which level 0 learns
// what to import) and stopped after the suite. The other Kiln commands run
// with --no-daemon, so they stay cold.
import { spawnSync } from "node:child_process";
import { KILN_CLI } from "./paths.js";

export interface BenchDaemon {
  /** Level 0's resident memory while idle, right after it started (kB). */
  idleRssKb: number | undefined;
  /** Level 1 once warm: its RSS (kB), modules held, fork-to-warm and import times (ms); or why none. */
  level1: { rssKb: number; modules: number; buildMs: number; importMs: number } | string;
  stop(): void;
}

export function startBenchDaemon(
  dir: string,
  python: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): BenchDaemon {
  const daemon = (...args: string[]) =>
    spawnSync(process.execPath, [KILN_CLI, "daemon", ...args], {
      cwd: dir,
      env,
      encoding: "utf8",
      timeout: 300_000,
    });
  // The default idle timeout: a bench killed half-way leaves no daemon for long.
  const started = daemon("start", "--python", python);
  if (started.status !== 0) throw new Error(`kiln daemon start failed: ${started.stderr}`);
  log(started.stdout.trim());
  let status = daemon("status").stdout;
  const rss = /level 0 +pid \d+, RSS ([\d.]+) MiB/.exec(status)?.[1];
  // Level 1 builds in the background from the cold runs' record: the
  // measured rounds should find it warm, as a user's second run would.
  const deadline = Date.now() + 30_000;
  while (/level 1 +(pid \d+, RSS [\d.]+ MiB, )?building/.test(status) && Date.now() < deadline) {
    spawnSync("sleep", ["0.1"]);
    status = daemon("status").stdout;
  }
  const warm =
    /level 1 +pid \d+, RSS ([\d.]+) MiB, warm, (\d+) project modules held, forked from level 0 in ([\d.]+) ms \(imports ([\d.]+) ms\)/.exec(
      status,
    );
  const level1 = warm
    ? {
        rssKb: Math.round(Number(warm[1]) * 1024),
        modules: Number(warm[2]),
        buildMs: Number(warm[3]),
        importMs: Number(warm[4]),
      }
    : (/level 1 +(.*)/.exec(status)?.[1] ?? "not reported");
  log(`level 1: ${typeof level1 === "string" ? level1 : JSON.stringify(level1)}`);
  return {
    level1,
    idleRssKb: rss === undefined ? undefined : Math.round(Number(rss) * 1024),
    stop: () => {
      daemon("stop");
    },
  };
}
