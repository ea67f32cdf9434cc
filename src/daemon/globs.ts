// Glob patterns for `[tool.kiln] watch-ignore` / `watch-trigger` (pure),
// matched with picomatch (the matcher chokidar and micromatch use) against a
// path relative to pytest's rootdir with forward slashes, in gitignore's
// reading of a pattern:
//   `*` any run of characters except `/`, `?` one such character,
//   `**` any number of whole directories (`docs/**`, `**/*.md`), braces and
//   bracket sets as in picomatch;
//   a pattern without `/` matches the file name in any directory (gitignore),
//   a pattern ending in `/` matches everything below that directory.
import picomatch from "picomatch";

/** gitignore's reading of a pattern, in picomatch's terms. */
function normalize(pattern: string): string {
  let glob = pattern.startsWith("./") ? pattern.slice(2) : pattern;
  if (glob.endsWith("/")) glob = `${glob}**`;
  if (!glob.includes("/")) glob = `**/${glob}`;
  return glob;
}

/** Whether `rel` matches `pattern`. */
export function globMatches(pattern: string, rel: string): boolean {
  return picomatch(normalize(pattern), { dot: true })(rel);
}

export class GlobSet {
  private readonly compiled: { pattern: string; test: (rel: string) => boolean }[];

  constructor(patterns: readonly string[]) {
    this.compiled = patterns.map((pattern) => ({
      pattern,
      test: picomatch(normalize(pattern), { dot: true }),
    }));
  }

  /** The first pattern that matches `rel`, or undefined. */
  match(rel: string): string | undefined {
    return this.compiled.find(({ test }) => test(rel))?.pattern;
  }
}
