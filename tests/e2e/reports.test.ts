// Run records and report modules end to end, on every example project:
// `kiln test --report junit,html,trace,json` writes all four with the run's
// counts, `kiln report` re-renders them byte for byte, and the JUnit file
// parses and counts like pytest's own --junitxml.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../src/events/manifest.js";
import { PROJECTS, runKiln, runPytest } from "../helpers/kiln.js";
import { finalLineCounts, latestRun, listFiles, readText } from "../helpers/reports.js";
import { copyProject } from "../helpers/temp.js";

interface ParityRun {
  name: string;
  kiln_args: string[];
  pytest_args: string[];
}

// Projects that need third-party plugins ("requires" in parity.json) run
// under the venvs in parity-golden and plugins.test.ts; the reports here come
// from the same records whatever the plugins, so Debian's python3 suffices.
const projects = readdirSync(PROJECTS)
  .filter((name) => {
    const parity = JSON.parse(readFileSync(join(PROJECTS, name, "parity.json"), "utf8")) as {
      requires?: string[];
    };
    return (parity.requires ?? []).length === 0;
  })
  .sort();

interface SuiteCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function junitCounts(xml: string): SuiteCounts {
  expect(XMLValidator.validate(xml)).toBe(true);
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml) as {
    testsuites: { testsuite: Record<string, string> };
  };
  const suite = parsed.testsuites.testsuite;
  return {
    tests: Number(suite.tests),
    failures: Number(suite.failures),
    errors: Number(suite.errors),
    skipped: Number(suite.skipped),
  };
}

describe.each(projects)("reports for %s", (name) => {
  const run = (
    JSON.parse(readFileSync(join(PROJECTS, name, "parity.json"), "utf8")) as { runs: ParityRun[] }
  ).runs[0] as ParityRun;

  it("writes junit, html, trace and json with the run's counts; kiln report reproduces them", async () => {
    const dir = copyProject(name);
    const result = await runKiln(
      ["test", "-p", "no:cacheprovider", "--report", "junit,html,trace,json", ...run.kiln_args],
      { cwd: dir, timeoutMs: 120_000 },
    );
    const runDir = latestRun(dir);
    const manifest = JSON.parse(readText(join(runDir, "manifest.json"))) as Manifest;
    expect(manifest.exitCode).toBe(result.code);
    expect(manifest.complete).toBe(true);

    // The manifest's counts are pytest's final line (warnings are not recorded).
    const pytestCounts = finalLineCounts(result.stdout);
    delete pytestCounts.warning;
    delete pytestCounts.warnings;
    const recorded = Object.fromEntries(Object.entries(manifest.outcomes).filter(([, n]) => n > 0));
    expect(recorded, result.stdout).toEqual(pytestCounts);

    const reports = join(runDir, "reports");
    const files = listFiles(reports);
    for (const f of ["junit.xml", "html/index.html", "trace.json", "summary.json", "index.html"]) {
      expect(files).toContain(f);
    }
    const summary = JSON.parse(readText(join(reports, "summary.json"))) as {
      counts: Manifest["outcomes"];
      tests: unknown[];
    };
    expect(summary.counts).toEqual(manifest.outcomes);
    const junit = junitCounts(readText(join(reports, "junit.xml")));
    const o = manifest.outcomes;
    expect(junit.failures).toBe(o.failed);
    expect(junit.errors).toBe(o.error);
    expect(junit.skipped).toBe(o.skipped + o.xfailed);
    const trace = JSON.parse(readText(join(reports, "trace.json"))) as {
      traceEvents: { cat?: string }[];
    };
    expect(trace.traceEvents.filter((e) => e.cat === "test")).toHaveLength(summary.tests.length);
    expect(readText(join(reports, "html/index.html"))).toContain(`<b>${o.passed}</b>passed`);

    const again = join(dir, "again");
    const rerender = await runKiln(
      ["report", runDir, "--report", "junit,html,trace,json", "-o", again],
      { cwd: dir },
    );
    expect(rerender.code, rerender.stderr).toBe(0);
    expect(listFiles(again)).toEqual(files);
    for (const f of files) expect(readText(join(again, f)), f).toBe(readText(join(reports, f)));

    // pytest's own --junitxml on the same project counts the same. Where plain
    // pytest needs xdist (a crashing worker would kill it), xdist files a crash
    // under "error" (phase "???") and Kiln under "failure" (phase "call").
    const own = join(dir, "pytest-junit.xml");
    runPytest(["-p", "no:cacheprovider", "--junitxml", own, ...run.pytest_args], dir);
    const ours = junitCounts(readText(join(reports, "junit.xml")));
    const theirs = junitCounts(readText(own));
    if (run.pytest_args.includes("xdist")) {
      expect(ours.failures + ours.errors).toBe(theirs.failures + theirs.errors);
      expect({ ...ours, failures: 0, errors: 0 }).toEqual({ ...theirs, failures: 0, errors: 0 });
    } else {
      expect(ours).toEqual(theirs);
    }
  }, 180_000);
});

/** Times are the only thing a replay from the record cannot reproduce. */
function withoutTimes(xml: string): string {
  return xml.replace(/ time="[\d.]+"/g, ' time="T"').replace(/ timestamp="[^"]+"/, "");
}

describe("the junit module", () => {
  it.each(["basic", "capture", "fixtures", "unittest_cases"])(
    "writes what pytest's own --junitxml writes in the zygote, times aside (%s, -n 1)",
    async (name) => {
      const dir = copyProject(name);
      const own = join(dir, "own.xml");
      const out = join(dir, "out");
      await runKiln(
        [
          "test",
          "-n",
          "1",
          "-p",
          "no:cacheprovider",
          "-o",
          "junit_logging=all",
          "--junitxml",
          own,
        ].concat(["--report", "junit", "--report-dir", out]),
        { cwd: dir },
      );
      expect(withoutTimes(readText(join(out, "junit.xml")))).toBe(withoutTimes(readText(own)));
    },
    60_000,
  );
});

describe("report modules", () => {
  // One recorded run of demo serves the tests that only read it back.
  let demo: Promise<{ dir: string; stdout: string }> | undefined;
  const demoRecorded = (): Promise<{ dir: string; stdout: string }> => {
    demo ??= (async () => {
      const dir = copyProject("demo");
      const r = await runKiln(["test", "-q"], { cwd: dir });
      expect(r.code, r.stdout).toBe(0);
      return { dir, stdout: r.stdout };
    })();
    return demo;
  };
  const demoRun = async (): Promise<string> => (await demoRecorded()).dir;

  it("reports a module that throws by name, renders the others, loads a module from a file", async () => {
    const dir = copyProject("basic");
    await runKiln(["test", "-p", "no:cacheprovider", "-q"], { cwd: dir });
    writeFileSync(
      join(dir, "boom.mjs"),
      'export default { id: "boom", name: "Boom module", subscribes: ["results"], render() { throw new Error("kaboom"); } };\n',
    );
    writeFileSync(
      join(dir, "custom.mjs"),
      "export default { id: 'tally', name: 'Tally', subscribes: ['results'],\n" +
        "  render(ctx) { return { files: [{ path: 'tally/count.txt', content: String(ctx.tests.length) }] }; } };\n",
    );
    const out = join(dir, "out");
    const r = await runKiln(
      ["report", ".", "--report", "./boom.mjs,json,./custom.mjs", "-o", out],
      {
        cwd: dir,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/report module "Boom module" \(boom\) failed: kaboom/);
    expect(listFiles(out)).toEqual(["index.html", "summary.json", "tally/count.txt"]);
    expect(readText(join(out, "tally/count.txt"))).toBe("28");
    expect(readText(join(out, "index.html"))).toContain("Boom module");
  });

  it("rejects an unknown module id with the list of built-ins, exit 4", async () => {
    const dir = await demoRun();
    const r = await runKiln(["report", ".", "--report", "nope"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('unknown report module "nope"');
    expect(r.stderr).toContain("junit, html, trace, json, summary");
  });

  it("kiln report reprints the summary of a past run, with pytest's duration", async () => {
    const { dir, stdout } = await demoRecorded();
    const r = await runKiln(["report", "--report", "summary", "-o", join(dir, "o")], { cwd: dir });
    expect(r.code).toBe(0);
    // The same "in Xs" pytest printed at the end of the run, not Node's span.
    const pytestSaid = /\d+ passed in ([\d.]+s)/.exec(stdout)?.[1];
    expect(pytestSaid).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`=+ \\d+ passed in ${pytestSaid?.replace(".", "\\.")} =+`));
  });
});
