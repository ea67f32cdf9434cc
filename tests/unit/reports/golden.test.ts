// Every built-in report module against every example project's recorded run
// (tests/golden/runs/<project>/), compared byte for byte with
// tests/golden/reports/<project>/. KILN_UPDATE_GOLDEN=1 re-records the runs
// with the built CLI (npm run build first) and rewrites the goldens.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUILTIN_MODULES, renderReports } from "../../../src/reports/registry.js";
import {
  GOLDEN_REPORTS,
  GOLDEN_RUNS,
  goldenProjects,
  recordGoldenRun,
  UPDATE_GOLDEN,
} from "../../helpers/golden.js";
import { PROJECTS } from "../../helpers/kiln.js";
import { listFiles } from "../../helpers/reports.js";

const projects = UPDATE_GOLDEN ? readdirSync(PROJECTS).sort() : goldenProjects();
const scratch = mkdtempSync(join(tmpdir(), "kiln-golden-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function kilnArgs(name: string): string[] {
  const parity = JSON.parse(readFileSync(join(PROJECTS, name, "parity.json"), "utf8")) as {
    runs: { kiln_args: string[] }[];
  };
  return parity.runs[0]?.kiln_args ?? [];
}

describe.each(projects)("golden reports for %s", (name) => {
  it("match", { timeout: UPDATE_GOLDEN ? 180_000 : 30_000 }, async () => {
    if (UPDATE_GOLDEN) await recordGoldenRun(name, ["-n", "2", ...kilnArgs(name)]);
    const out = join(scratch, name);
    const warnings: string[] = [];
    const result = await renderReports(join(GOLDEN_RUNS, name), BUILTIN_MODULES, out, (w) =>
      warnings.push(w),
    );
    expect(result.failed).toEqual([]);
    expect(warnings).toEqual([]);
    const golden = join(GOLDEN_REPORTS, name);
    if (UPDATE_GOLDEN) {
      rmSync(golden, { recursive: true, force: true });
      cpSync(out, golden, { recursive: true });
    }
    const files = listFiles(out);
    expect(files).toEqual(listFiles(golden));
    for (const file of files) {
      expect(readFileSync(join(out, file), "utf8"), `${name}/${file}`).toBe(
        readFileSync(join(golden, file), "utf8"),
      );
    }
  });
});
