// Every example project, every run in its parity.json: the {nodeid: outcome}
// map and exit code under Kiln equal plain pytest's, recorded in
// expected/<run>.json by scripts/regenerate-expected.mjs. A project whose
// parity.json "requires" plugin modules runs under the pytest 9.1 venv its
// expected/ was recorded with (helpers/plugin-projects.ts). Every run is in a
// temp copy of the project.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECTS, type RecordedOutcomes, runKilnRecorded } from "../helpers/kiln.js";
import { type PluginPython, pluginPython } from "../helpers/plugin-projects.js";
import { copyProject } from "../helpers/temp.js";

interface ParityRun {
  name: string;
  kiln_args: string[];
  exit_code: number;
}

interface ParityFile {
  requires?: string[];
  runs: ParityRun[];
}

const projects = readdirSync(PROJECTS).sort();

describe.each(projects)("project %s", (name) => {
  const dir = join(PROJECTS, name);
  const parity = JSON.parse(readFileSync(join(dir, "parity.json"), "utf8")) as ParityFile;
  const plugin: PluginPython | undefined =
    parity.requires && parity.requires.length > 0 ? pluginPython(parity.requires) : undefined;
  it.skipIf(plugin?.skip !== undefined).each(parity.runs.map((run) => [run.name, run] as const))(
    "run %s matches pytest",
    async (_, run) => {
      const expected = JSON.parse(
        readFileSync(join(dir, "expected", `${run.name}.json`), "utf8"),
      ) as RecordedOutcomes;
      // A copy: Kiln writes .kiln/ (and plugins their files) into the project.
      const cwd = copyProject(name);
      const { result, recorded } = await runKilnRecorded(
        ["-n", "2", "-p", "no:cacheprovider", ...run.kiln_args],
        { cwd, env: plugin?.python ? { KILN_PYTHON: plugin.python } : undefined },
      );
      expect(recorded.outcomes, result.stdout + result.stderr).toEqual(expected.outcomes);
      expect(result.code).toBe(run.exit_code);
      expect(recorded.exit_code).toBe(run.exit_code);
    },
  );
});
