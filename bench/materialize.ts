// Generating a suite into bench/suites/<name> once, and reusing it (with its
// __pycache__ and .kiln/ durations, as a developer's checkout has them) until
// its definition changes.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SUITES_DIR } from "./paths.js";
import type { SuiteBuild } from "./suites.js";

const STAMP = ".bench-suite.json";

export function suiteDir(name: string, quick: boolean): string {
  return join(SUITES_DIR, quick ? `quick-${name}` : name);
}

/** Returns true when the suite was (re)generated. */
export function materialize(dir: string, build: SuiteBuild): boolean {
  const stamp = JSON.stringify(build.stamp);
  const stampPath = join(dir, STAMP);
  if (existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp) return false;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  build.write(dir);
  // Written last: an interrupted generation is redone next time.
  writeFileSync(stampPath, stamp);
  return true;
}
