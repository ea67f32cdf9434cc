// CPU pressure (PSI, Documentation/accounting/psi.rst): /proc/pressure/cpu's
// "some avg10" is the share of the last 10 s in which at least one runnable
// task waited for a CPU. Kernels without CONFIG_PSI (or with psi=0) have no
// such file: the pool then sizes from demand alone and the metrics say so.
import { readFileSync } from "node:fs";

/** "some avg10" from the file's text, or null when it has no such field. */
export function parsePsiSomeAvg10(text: string): number | null {
  const match = /^some\s.*\bavg10=([0-9.]+)/m.exec(text);
  if (!match?.[1]) return null;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : null;
}

export function readCpuPressure(path = "/proc/pressure/cpu"): number | null {
  try {
    return parsePsiSomeAvg10(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}
