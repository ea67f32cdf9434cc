// The daemon's idle timeout: `kiln daemon start --idle MINUTES`, else
// `daemon-idle-minutes` in pyproject.toml's [tool.kiln], else 30 minutes.
import { readKilnTable } from "../config/pyproject-kiln.js";

export const DEFAULT_IDLE_MINUTES = 30;

/**
 * `daemon-idle-minutes` in [tool.kiln] of the nearest pyproject.toml at or
 * above the rootdir, as text for idleSeconds to check. Throws
 * KilnConfigError when that file is not TOML.
 */
export function idleMinutesFromPyproject(rootdir: string): string | undefined {
  const value = readKilnTable(rootdir).table["daemon-idle-minutes"];
  return value === undefined ? undefined : String(value);
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
