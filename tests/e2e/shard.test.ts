// `kiln test --shard I/N` and `kiln report --merge` end to end, on the
// `basic` example project (failures, skips, xfails, a module-level skip):
// the shards run disjoint parts whose union is the suite, the merged record
// says what a single run says, and the merged durations feed the next
// sharded run.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../src/events/manifest.js";
import { runKiln } from "../helpers/kiln.js";
import { latestRun } from "../helpers/reports.js";
import { copyProject, tempDir } from "../helpers/temp.js";

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** {nodeid: "setup:passed call:failed ..."} from a run's results, plus collection-time skips. */
function outcomes(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of jsonl(join(runDir, "results.jsonl"))) {
    const id = String(r.nodeid);
    out[id] = `${out[id] ?? ""}${r.when}:${r.outcome} `.trimStart();
  }
  for (const r of jsonl(join(runDir, "collect.jsonl"))) {
    if (r.type === "skipped" || r.type === "error") out[String(r.nodeid)] = `collect:${r.type}`;
  }
  return out;
}

function manifest(runDir: string): Manifest {
  return JSON.parse(readFileSync(join(runDir, "manifest.json"), "utf8")) as Manifest;
}

function durationsOf(file: string): Record<string, number> {
  return (JSON.parse(readFileSync(file, "utf8")) as { durations: Record<string, number> })
    .durations;
}

describe("kiln test --shard and kiln report --merge", () => {
  it("shards split the suite, the merge equals a single run, its durations feed the next split", async () => {
    const dir = copyProject("basic");
    const kiln = (args: string[]) => runKiln(args, { cwd: dir });

    const full = await kiln(["test", "-n", "2"]);
    expect(full.code, full.stderr).toBe(1);
    const fullRun = latestRun(dir);
    const durationsFile = join(dir, ".kiln", "durations.json");
    const recorded = readFileSync(durationsFile, "utf8");

    const shardRuns: string[] = [];
    const ran: string[][] = [];
    for (const index of [1, 2]) {
      const r = await kiln(["test", "-n", "1", "--shard", `${index}/2`]);
      expect([0, 1], r.stderr).toContain(r.code);
      // pytest's own summary counts the other shard's items as deselected.
      expect(r.stdout).toMatch(/\d+ deselected/);
      expect(r.stdout).toMatch(new RegExp(`kiln: shard ${index}/2: \\d+ of \\d+ tests`));
      const run = latestRun(dir);
      shardRuns.push(run);
      ran.push(Object.keys(outcomes(run)).filter((id) => !id.endsWith(".py")));
    }
    // A shard leaves the durations file alone, so the next shard splits alike.
    expect(readFileSync(durationsFile, "utf8")).toBe(recorded);
    const [one = [], two = []] = ran;
    expect(one.filter((id) => two.includes(id))).toEqual([]);
    expect(one.length).toBeGreaterThan(0);
    expect(two.length).toBeGreaterThan(0);

    const out = join(tempDir("kiln-merged-"), "merged");
    const merged = await kiln(["report", "--merge", ...shardRuns, "--out", out]);
    // The merged run's exit code: a shard's failure fails the merge step.
    expect(merged.code, merged.stderr).toBe(1);
    expect(outcomes(out)).toEqual(outcomes(fullRun));
    const m = manifest(out);
    const f = manifest(fullRun);
    expect(m.outcomes).toEqual(f.outcomes);
    expect(m.collection).toEqual(f.collection);
    expect(m.exitCode).toBe(f.exitCode);
    expect(m.complete).toBe(true);
    // The summary module's terminal text, as pytest's final line would count.
    expect(merged.stdout).toMatch(/failed/);
    const junit = readFileSync(join(out, "reports", "junit.xml"), "utf8");
    const fullJunit = await kiln([
      "report",
      fullRun,
      "--report",
      "junit",
      "-o",
      join(out, "..", "f"),
    ]);
    expect(fullJunit.code).toBe(0);
    const counts = (xml: string) =>
      /<testsuite [^>]*>/.exec(xml)?.[0].replace(/ (time|timestamp|hostname)="[^"]*"/g, "");
    expect(counts(junit)).toBe(counts(readFileSync(join(out, "..", "f", "junit.xml"), "utf8")));
    // Every test that ran has a duration in the merged file.
    const ranInFull = Object.keys(outcomes(fullRun)).filter((id) => !id.endsWith(".py"));
    expect(Object.keys(durationsOf(join(out, "durations.json"))).sort()).toEqual(ranInFull.sort());

    // Merged into the project (no --out): .kiln/durations.json is replaced
    // by the shards' durations, and the next sharded run splits by them.
    writeFileSync(durationsFile, '{"version": 1, "durations": {}}\n');
    const intoProject = await kiln(["report", "--merge", ...shardRuns]);
    expect(intoProject.code, intoProject.stderr).toBe(1);
    expect(Object.keys(durationsOf(durationsFile)).sort()).toEqual(ranInFull.sort());
    expect(existsSync(join(latestRun(dir), "reports", "junit.xml"))).toBe(true);
    const again = await kiln(["test", "-n", "1", "--shard", "2/2"]);
    const total = ranInFull.length;
    expect(again.stdout).toContain(`(${total} of ${total} durations recorded)`);
  }, 90_000);

  it("refuses a bad --shard and a bad --merge with a usage error", async () => {
    const dir = copyProject("basic");
    const bad = await runKiln(["test", "--shard", "3/2"], { cwd: dir });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("--shard 3/2: the shard number must be between 1 and 2");
    const missing = await runKiln(["report", "--merge", join(dir, "nope")], { cwd: dir });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/--merge: .*nope is not a Kiln run directory/);
  });
});
