// One manifest: every example project, run once by kiln, and its manifest
// folded again from the records it left (what `kiln report` does for a run
// without a usable manifest.json) must be the manifest the run wrote live.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../src/events/manifest.js";
import { RECORD_FILES } from "../../src/events/records.js";
import { loadRun, rebuildManifest } from "../../src/reports/run-data.js";
import { PROJECTS, runKiln } from "../helpers/kiln.js";
import { pluginPython } from "../helpers/plugin-projects.js";
import { latestRun } from "../helpers/reports.js";
import { copyProject } from "../helpers/temp.js";

interface ParityConfig {
  requires?: string[];
  runs: { name: string; kiln_args: string[] }[];
}

const projects = readdirSync(PROJECTS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

// Two runs at a time: each has up to two workers, and the machine may have
// two cores (a project with timeouts must not time out from the load).
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((ready) => waiting.push(ready));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

describe("the manifest rebuilt from the records", () => {
  it("finds the example projects", () => {
    expect(projects).toContain("demo");
    expect(projects).toContain("crashes");
    expect(projects.length).toBeGreaterThan(10);
  });

  for (const name of projects) {
    const config = JSON.parse(
      readFileSync(join(PROJECTS, name, "parity.json"), "utf8"),
    ) as ParityConfig;
    const plugin = config.requires === undefined ? undefined : pluginPython(config.requires);
    it.skipIf(plugin?.skip !== undefined).concurrent(
      `${name}: equals the live one`,
      async () => {
        const dir = copyProject(name);
        // The project's first parity run: its timeouts, its plugins' options.
        const args = ["test", "-p", "no:cacheprovider", ...(config.runs[0]?.kiln_args ?? [])];
        if (!args.includes("-n")) args.push("-n", "2");
        const env = plugin?.python === undefined ? {} : { KILN_PYTHON: plugin.python };
        const result = await slot(() => runKiln(args, { cwd: dir, env, timeoutMs: 120_000 }));
        expect(result.signal, result.stderr).toBeNull();
        const run = latestRun(dir);
        const live = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8")) as Manifest;
        expect(live.exitCode).toBe(result.code);
        // The registry looked every project module up: the rebuild once said 0 here.
        expect(live.cache.hits + live.cache.misses + live.cache.bypasses).toBeGreaterThan(0);
        const { records, skippedLines } = loadRun(run, RECORD_FILES);
        expect(skippedLines).toEqual({});
        expect(rebuildManifest(run, records)).toEqual(live);
      },
      180_000,
    );
  }
});
