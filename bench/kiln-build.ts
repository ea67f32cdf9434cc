// The bench times the built CLI (dist/), not the sources: say so loudly when
// the build is missing or older than src/.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { KILN_CLI, KILN_SRC } from "./paths.js";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** An error message when Kiln cannot be run, else a warning or undefined. */
export function checkKilnBuild(): { error?: string; warning?: string } {
  if (!existsSync(KILN_CLI))
    return { error: `${KILN_CLI} is missing: run \`npm run build\` first` };
  if (existsSync(KILN_SRC) && newestMtime(KILN_SRC) > statSync(KILN_CLI).mtimeMs) {
    return { warning: "src/ is newer than dist/: these figures are for the last `npm run build`" };
  }
  return {};
}
