import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RunRecorder } from "../../../src/events/run-recorder.js";
import type { ReportModule } from "../../../src/reports/module.js";
import {
  BUILTIN_MODULES,
  parseReportList,
  ReportSelectionError,
  renderReports,
  resolveModules,
} from "../../../src/reports/registry.js";
import { tempDir } from "../../helpers/temp.js";

const RUN_ID = "20250101-120000-000-abcd";

/** A small recorded run: one pass, one failure. */
function recordedRun(): string {
  const root = tempDir("kiln-reg-");
  const rec = new RunRecorder({
    runId: RUN_ID,
    cwd: root,
    kilnVersion: "0",
    keepRuns: 5,
    warn: () => {},
  });
  rec.emit({
    event: "collection:finished",
    at: 10,
    rootdir: root,
    items: [{ nodeid: "t.py::a", location: ["t.py", 0, "a"] }],
    errors: [],
    skipped: [],
    deselected: 0,
  });
  for (const [nodeid, outcome] of [
    ["t.py::a", "passed"],
    ["t.py::b", "failed"],
  ] as const) {
    rec.emit({
      event: "test:finished",
      at: 20,
      workerId: 1,
      nodeid,
      location: [],
      reports: [{ when: "call", outcome, duration: 0.5, wasxfail: false, longreprtext: "E boom" }],
    });
  }
  return rec.finish(1) as string;
}

const broken: ReportModule = {
  id: "broken",
  name: "Broken module",
  subscribes: ["results"],
  render() {
    throw new Error("kaboom");
  },
};

const escaping: ReportModule = {
  id: "escaping",
  name: "Escaping module",
  subscribes: [],
  render: () => ({ files: [{ path: "../outside.txt", content: "x" }] }),
};

describe("renderReports", () => {
  it("names a module that throws or writes outside, and still renders the others", async () => {
    const runDir = recordedRun();
    const out = tempDir("kiln-out-");
    const warnings: string[] = [];
    const json = BUILTIN_MODULES.find((m) => m.id === "json") as ReportModule;
    const result = await renderReports(runDir, [broken, escaping, json], out, (w) =>
      warnings.push(w),
    );
    expect(result.failed.map((f) => f.name)).toEqual(["Broken module", "Escaping module"]);
    expect(warnings[0]).toBe('report module "Broken module" (broken) failed: kaboom');
    expect(result.written).toEqual(["summary.json", "index.html"]);
    expect(existsSync(join(out, "..", "outside.txt"))).toBe(false);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(summary.counts).toMatchObject({ passed: 1, failed: 1 });
  });

  it("renders every built-in deterministically", async () => {
    const runDir = recordedRun();
    const a = tempDir("kiln-out-");
    const b = tempDir("kiln-out-");
    const ra = await renderReports(runDir, BUILTIN_MODULES, a, () => {});
    await renderReports(runDir, BUILTIN_MODULES, b, () => {});
    expect(ra.failed).toEqual([]);
    for (const file of ra.written) {
      expect(readFileSync(join(b, file), "utf8"), file).toBe(readFileSync(join(a, file), "utf8"));
    }
  });
});

describe("module selection", () => {
  it("splits comma lists and drops repeats", () => {
    expect(parseReportList(["junit,html", " html ,trace", ""])).toEqual(["junit", "html", "trace"]);
  });

  it("loads a module from an ESM file and refuses unknown ids and bad exports", async () => {
    const dir = tempDir("kiln-mod-");
    writeFileSync(
      join(dir, "mine.mjs"),
      "export default { id: 'mine', name: 'Mine', subscribes: [], render: () => ({ files: [] }) };\n",
    );
    writeFileSync(join(dir, "bad.mjs"), "export default 42;\n");
    const [mine] = await resolveModules(["./mine.mjs"], dir);
    expect(mine?.name).toBe("Mine");
    await expect(resolveModules(["nope"], dir)).rejects.toThrow(ReportSelectionError);
    await expect(resolveModules(["./bad.mjs"], dir)).rejects.toThrow(/default export/);
    await expect(resolveModules(["./missing.mjs"], dir)).rejects.toThrow(/cannot load/);
  });
});
