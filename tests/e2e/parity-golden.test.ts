// Every example project, every run in its parity.json: the {nodeid: outcome}
// map and exit code under Kiln equal plain pytest's, recorded in
// expected/<run>.json by scripts/regenerate-expected.mjs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECTS, type RecordedOutcomes, runKilnRecorded } from "../helpers/kiln.js";

interface ParityRun {
  name: string;
  kiln_args: string[];
  exit_code: number;
}

const projects = readdirSync(PROJECTS).sort();

describe.each(projects)("project %s", (name) => {
  const dir = join(PROJECTS, name);
  const runs = (JSON.parse(readFileSync(join(dir, "parity.json"), "utf8")) as { runs: ParityRun[] })
    .runs;
  it.each(runs.map((run) => [run.name, run] as const))("run %s matches pytest", async (_, run) => {
    const expected = JSON.parse(
      readFileSync(join(dir, "expected", `${run.name}.json`), "utf8"),
    ) as RecordedOutcomes;
    const { result, recorded } = await runKilnRecorded(
      ["-n", "2", "-p", "no:cacheprovider", ...run.kiln_args],
      { cwd: dir },
    );
    expect(recorded.outcomes, result.stdout + result.stderr).toEqual(expected.outcomes);
    expect(result.code).toBe(run.exit_code);
    expect(recorded.exit_code).toBe(run.exit_code);
  });
});
