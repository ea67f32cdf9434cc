// Which daemon, if any, `kiln test` asks for its zygote: the one whose
// .kiln/daemon.json sits in this run's rootdir (pytest's, as
// config/rootdir.ts works it out before pytest runs).
import { dirname } from "node:path";
import { daemonInfoNear } from "../config/kiln-dir.js";
import { pytestRootdir } from "../config/rootdir.js";
import { type DaemonInfo, readDaemonInfo } from "./daemon-info.js";

export type DaemonLookup =
  | { found: true; info: DaemonInfo; rootdir: string }
  | { found: false; note?: string };

export function findDaemon(
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): DaemonLookup {
  const rootdir = pytestRootdir({ cwd, args: [...args], env });
  const info = readDaemonInfo(rootdir);
  if (info !== undefined) return { found: true, info, rootdir };
  const near = daemonInfoNear(cwd);
  if (near === undefined) return { found: false };
  const other = dirname(dirname(near));
  return {
    found: false,
    note: `the daemon in ${other} serves that rootdir, and this run's is ${rootdir}`,
  };
}
