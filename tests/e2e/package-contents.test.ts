// What `npm pack` would publish: Kiln's runtime, not its development tools
// (the parity tool, the outcome recorder), and nothing the runtime loads is
// left out. Needs `npm run build` (dist/), like every e2e test.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/kiln.js";

function packedFiles(): Set<string> {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [pack] = JSON.parse(out) as [{ files: { path: string }[] }];
  return new Set(pack.files.map((f) => f.path));
}

describe("the published package", () => {
  const files = packedFiles();

  it("leaves out the parity tool and the outcome recorder", () => {
    expect([...files].filter((f) => f.startsWith("dist/parity/"))).toEqual([]);
    expect(files.has("python/kiln_harness/outcome_recorder.py")).toBe(false);
    expect(files.has("dist/cli/main.js")).toBe(true);
  });

  it("holds every module a shipped module imports", () => {
    const missing: string[] = [];
    for (const file of files) {
      if (!file.endsWith(".js")) continue;
      const text = readFileSync(join(REPO, file), "utf8");
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = normalize(join(dirname(file), spec as string));
        if (!files.has(target)) missing.push(`${file} -> ${target}`);
      }
    }
    for (const file of files) {
      if (!file.startsWith("python/kiln_harness/") || !file.endsWith(".py")) continue;
      const text = readFileSync(join(REPO, file), "utf8");
      const relative = [
        ...[...text.matchAll(/^\s*from \.(\w+) import/gm)].map((m) => m[1]),
        ...[...text.matchAll(/^\s*from \. import (\w+)/gm)].map((m) => m[1]),
      ];
      for (const name of relative) {
        const target = `python/kiln_harness/${name}.py`;
        if (!files.has(target)) missing.push(`${file} -> ${target}`);
      }
    }
    // kiln_harness.boot imports its programs by name (its PROGRAMS table).
    for (const program of ["zygote", "compile_server", "doctor_probe"]) {
      const target = `python/kiln_harness/${program}.py`;
      if (!files.has(target)) missing.push(`boot.py -> ${target}`);
    }
    expect(missing).toEqual([]);
  });
});
