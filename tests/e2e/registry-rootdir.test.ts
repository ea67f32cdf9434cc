// The registry's scope is pytest's rootdir, not the working directory: run
// from tests/, Kiln walks, compiles into and reads from <rootdir>/.kiln.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runKiln } from "../helpers/kiln.js";
import { copyProject, tempDir } from "../helpers/temp.js";

function registryLine(stdout: string): string {
  return stdout.split("\n").find((line) => line.startsWith("kiln: registry:")) ?? "";
}

describe("registry scope", () => {
  it("run from tests/, uses <rootdir>/.kiln and never creates tests/.kiln", async () => {
    // src_layout: pytest.ini at the root, the package under src/, tests/.
    const dir = copyProject("src_layout");
    const args = ["test", "-n", "1", "-p", "no:cacheprovider"];
    const fromTests = await runKiln(args, { cwd: join(dir, "tests") });
    expect(fromTests.stdout).toContain(`rootdir: ${dir}`);
    // src/mypkg/__init__.py, src/mypkg/core.py and the test module: the walk
    // covered the rootdir, not just tests/.
    expect(registryLine(fromTests.stdout)).toMatch(/registry: 3 modules \(0 cached, 3 compiled\)/);
    expect(fromTests.stderr).not.toContain("warning");
    expect(existsSync(join(dir, "tests/.kiln"))).toBe(false);
    expect(existsSync(join(dir, ".kiln/registry.sqlite"))).toBe(true);
    expect(existsSync(join(dir, ".kiln/files.json"))).toBe(true);

    // The same registry from the root: everything cached.
    const fromRoot = await runKiln(args, { cwd: dir });
    expect(registryLine(fromRoot.stdout)).toMatch(/registry: 3 modules \(3 cached, 0 compiled\)/);
    expect(fromRoot.code).toBe(fromTests.code);
    // `kiln cache` finds the same store from tests/.
    const stats = await runKiln(["cache", "stats"], { cwd: join(dir, "tests") });
    expect(stats.stdout).toContain(join(dir, ".kiln/registry.sqlite"));
    expect(existsSync(join(dir, "tests/.kiln"))).toBe(false);
  });

  it("imports normally and says so when pytest's rootdir is not the one prepared for", async () => {
    // Kiln works out pytest's rootdir before pytest runs (config/rootdir.ts)
    // and prepares the registry there. Whatever its port of pytest's rules
    // misses, the zygote notices before any conftest. Here a plugin loaded
    // with -p moves the rootdir from the pytest.ini above to proj/, as a rule
    // Kiln does not know would.
    const dir = tempDir("kiln-rootdir-mismatch-");
    writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
    mkdirSync(join(dir, "proj/tests"), { recursive: true });
    writeFileSync(
      join(dir, "proj/moveroot.py"),
      "import pathlib, pytest\n\n@pytest.hookimpl(tryfirst=True)\n" +
        "def pytest_load_initial_conftests(early_config):\n" +
        "    early_config._rootpath = pathlib.Path(__file__).parent\n",
    );
    writeFileSync(join(dir, "proj/tests/conftest.py"), "X = 1\n");
    writeFileSync(join(dir, "proj/tests/test_a.py"), "def test_a():\n    assert 1 == 2\n");
    const r = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider", "-p", "moveroot"], {
      cwd: join(dir, "proj/tests"),
      env: { PYTHONPATH: join(dir, "proj") },
    });
    expect(r.stdout).toContain(`rootdir: ${join(dir, "proj")}`);
    expect(r.stderr).toContain(
      `the module registry was prepared for ${dir}, but pytest's rootdir is ${join(dir, "proj")}`,
    );
    // pytest's own failure text, from a normal import of the test module.
    expect(r.stdout).toContain("assert 1 == 2");
    expect(r.stdout).toMatch(/1 failed/);
    expect(r.code).toBe(1);
    const cache = readFileSync(join(dir, "proj/.kiln/runs/latest/cache.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string });
    expect(cache.find((l) => l.type === "rootdir-mismatch")).toMatchObject({
      prepared: dir,
      rootdir: join(dir, "proj"),
    });
  });
});
