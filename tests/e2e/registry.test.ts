// The bytecode registry end to end: modules compiled once per content and
// served from the store; an edit is never served stale; --no-registry and a
// corrupt store degrade to normal imports; assertion text stays pytest's.
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runKiln, runPytest } from "../helpers/kiln.js";
import { copyProject } from "../helpers/temp.js";

function latestRun(dir: string): string {
  const latest = join(dir, ".kiln/runs/latest");
  return lstatSync(latest).isSymbolicLink()
    ? join(dir, ".kiln/runs", readlinkSync(latest))
    : join(dir, ".kiln/runs", readFileSync(latest, "utf8").trim());
}

function registryLine(stdout: string): string {
  return stdout.split("\n").find((line) => line.startsWith("kiln: registry:")) ?? "";
}

describe("module registry", () => {
  it("compiles on the first run and serves every module from the store on the next", async () => {
    const dir = copyProject("demo");
    const first = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(registryLine(first.stdout)).toMatch(/registry: 5 modules \(0 cached, 5 compiled\)/);
    const second = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(second.code).toBe(0);
    expect(registryLine(second.stdout)).toMatch(/registry: 5 modules \(5 cached, 0 compiled\)/);
    // The run record has one cache.jsonl line per module and the totals.
    const run = latestRun(dir);
    const manifest = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8")) as {
      cache: { hits: number; misses: number; bypasses: number };
    };
    expect(manifest.cache).toEqual({ hits: 5, misses: 0, bypasses: 0 });
    const lines = readFileSync(join(run, "cache.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === "hit")).toHaveLength(5);
    expect(lines.at(-1)).toMatchObject({ type: "served", served: 5, fallbacks: 0 });
    // modules.jsonl: every project module the zygote loaded, from the
    // registry (then what it imported from outside the project: "installed").
    const modules = readFileSync(join(run, "modules.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { module: string; source: string; ms: number })
      .filter((m) => m.source !== "installed");
    expect(modules.map((m) => m.module).sort()).toEqual([
      "conftest",
      "shop",
      "shop.cart",
      "test_cart",
      "test_io",
    ]);
    expect(modules.every((m) => m.source === "registry")).toBe(true);
  });

  it("never serves an edited file from the cache", async () => {
    const dir = copyProject("demo");
    await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    // The edited module must be recompiled, never served from the store.
    writeFileSync(
      join(dir, "src/shop/__init__.py"),
      '"""A tiny shop: the demo project `npm run demo` runs Kiln on."""\nraise ImportError("x")\n',
    );
    const r = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(registryLine(r.stdout)).toMatch(/\(4 cached, 1 compiled\)/);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("ImportError: x");
  });

  it("is off with --no-registry, with the same outcomes", async () => {
    const dir = copyProject("demo");
    const r = await runKiln(["test", "-n", "1", "--no-registry", "-p", "no:cacheprovider"], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect(registryLine(r.stdout)).toBe("");
    expect(r.stdout).toMatch(/10 passed/);
  });

  it("keeps pytest's assertion rewriting for test modules served from the store", async () => {
    const dir = copyProject("basic");
    const args = ["-p", "no:cacheprovider", "test_math.py"];
    await runKiln(["test", "-n", "1", ...args], { cwd: dir }); // warm the store
    const kiln = await runKiln(["test", "-n", "1", ...args], { cwd: dir });
    expect(registryLine(kiln.stdout)).toMatch(/compiled\)/);
    expect(registryLine(kiln.stdout)).not.toMatch(/ 0 cached/);
    const pytest = runPytest(args, dir);
    const failures = (out: string) =>
      out
        .slice(out.indexOf("= FAILURES ="), out.indexOf("short test summary info"))
        .replace(/0x[0-9a-f]+/g, "0xADDR");
    expect(failures(kiln.stdout)).toContain("assert 3 == 4");
    expect(failures(kiln.stdout)).toBe(failures(pytest.stdout));
  });

  it("survives a store that is not a database: warns, rebuilds, runs", async () => {
    const dir = copyProject("demo");
    await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    writeFileSync(join(dir, ".kiln/registry.sqlite"), "this is not a database");
    const r = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/10 passed/);
    expect(registryLine(r.stdout)).toMatch(/5 compiled/);
  });
});
