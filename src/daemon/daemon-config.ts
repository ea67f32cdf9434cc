// The daemon's idle timeout: `kiln daemon start --idle MINUTES`, else
// `daemon-idle-minutes` in pyproject.toml's [tool.kiln], else 30 minutes.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_IDLE_MINUTES = 30;

/**
 * `daemon-idle-minutes = N` in the [tool.kiln] table of <rootdir>/pyproject.toml.
 * A line-level read of that one key (TOML's `key = number` form), not a
 * TOML parser: Kiln has no other [tool.kiln] setting yet.
 */
export function idleMinutesFromPyproject(rootdir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(rootdir, "pyproject.toml"), "utf8");
  } catch {
    return undefined;
  }
  let inTable = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line.startsWith("[")) {
      inTable = line === "[tool.kiln]";
      continue;
    }
    const match = inTable ? /^"?daemon-idle-minutes"?\s*=\s*(\S+)$/.exec(line) : null;
    if (match) return match[1];
  }
  return undefined;
}

/** Minutes as given → seconds; an error message for anything but a number >= 0. */
export function idleSeconds(given: string | undefined, where: string): number | string {
  if (given === undefined) return DEFAULT_IDLE_MINUTES * 60;
  const minutes = Number(given);
  if (!Number.isFinite(minutes) || minutes < 0 || given.trim() === "") {
    return `${where} expects minutes (a number >= 0; 0: never idle out), got ${JSON.stringify(given)}`;
  }
  return minutes * 60;
}
