// What the figures were measured on: they mean little without it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";
import { KILN_REPO, REPO } from "./paths.js";
import type { PythonProbe } from "./python-probe.js";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  python: string;
  pythonVersion: string;
  modules: Record<string, string>;
  kilnCommit: string;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return match?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

function kilnCommit(): string {
  const git = (args: string[]) =>
    spawnSync("git", args, { cwd: KILN_REPO, encoding: "utf8" }).stdout?.trim() ?? "";
  const head = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const dirty = git(["status", "--porcelain", "--", "src", "python"]) !== "";
  const where = KILN_REPO === REPO ? "" : ` (${KILN_REPO})`;
  return `${head}${dirty ? " + uncommitted changes in src/ or python/" : ""}${where}`;
}

export function describeMachine(probe: PythonProbe): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    python: probe.python,
    pythonVersion: probe.version,
    modules: probe.modules,
    kilnCommit: kilnCommit(),
  };
}

export function machineLine(machine: Machine): string {
  const mods = Object.entries(machine.modules)
    .map(([name, version]) => `${name.replace("_", "-")} ${version}`)
    .join(", ");
  return (
    `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}; ` +
    `Node ${machine.node}; Python ${machine.pythonVersion} (${machine.python}) with ${mods}; ` +
    `Kiln ${machine.kilnCommit}`
  );
}

/** The 1/5/15-minute load averages: how busy the shared machine was around the run. */
export function loadAverage(): string {
  return loadavg()
    .map((n) => n.toFixed(2))
    .join(" / ");
}
