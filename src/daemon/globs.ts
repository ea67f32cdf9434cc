// Glob patterns for `[tool.kiln] watch-ignore` / `watch-trigger` (pure).
// The dialect is gitignore's and pytest's --ignore-glob's common part, matched
// against a path relative to pytest's rootdir with forward slashes:
//   `*` any run of characters except `/`, `?` one such character,
//   `**` any number of whole directories (`docs/**`, `**/*.md`),
//   a pattern without `/` matches the file name in any directory (gitignore),
//   a pattern ending in `/` matches everything below that directory.
// No brace or bracket sets: one small, documented dialect beats a half-copied
// big one.

export function globToRegExp(pattern: string): RegExp {
  let glob = pattern.startsWith("./") ? pattern.slice(2) : pattern;
  if (glob.endsWith("/")) glob = `${glob}**`;
  // gitignore: a pattern with no slash (other than a trailing one) matches at any depth.
  if (!glob.includes("/")) glob = `**/${glob}`;
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slashAfter = glob[i + 2] === "/";
        const atSegmentStart = i === 0 || glob[i - 1] === "/";
        if (atSegmentStart && slashAfter) {
          source += "(?:[^/]*/)*"; // `**/`: zero or more directories
          i += 2;
        } else {
          source += ".*"; // trailing `**`: everything below
          i += 1;
        }
      } else {
        source += "[^/]*";
      }
    } else if (c === "?") {
      source += "[^/]";
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

export class GlobSet {
  private readonly compiled: { pattern: string; re: RegExp }[];

  constructor(patterns: readonly string[]) {
    this.compiled = patterns.map((pattern) => ({ pattern, re: globToRegExp(pattern) }));
  }

  /** The first pattern that matches `rel`, or undefined. */
  match(rel: string): string | undefined {
    return this.compiled.find(({ re }) => re.test(rel))?.pattern;
  }
}
