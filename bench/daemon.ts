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
  const status = daemon("status").stdout;
  const rss = /level 0 +pid \d+, RSS ([\d.]+) MiB/.exec(status)?.[1];
  return {
    idleRssKb: rss === undefined ? undefined : Math.round(Number(rss) * 1024),
    stop: () => {
      daemon("stop");
    },
  };
}
