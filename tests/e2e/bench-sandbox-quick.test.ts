// `npm run bench:sandbox -- --quick`: the sandbox bench runs every part
// (worker ready per profile, the suite under each profile, the bwrap
// baseline) and prints its table. Never looks at a timing.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pythonWithPytest, REPO } from "../helpers/kiln.js";

const BUILT = join(REPO, "dist-bench/sandbox.js");

describe("npm run bench:sandbox -- --quick", () => {
  let stdout = "";
  afterAll(() => {
    const file = /raw figures: (\S+\.json)/.exec(stdout)?.[1];
    if (file?.startsWith(join(REPO, "bench/results/quick-"))) rmSync(file, { force: true });
  });

  it("prints every row of the table", { timeout: 240_000 }, () => {
    if (!existsSync(BUILT)) {
      const build = spawnSync("npx", ["tsc", "-p", "tsconfig.bench.json"], { cwd: REPO });
      expect(build.status).toBe(0);
    }
    const run = spawnSync(process.execPath, [BUILT, "--quick", "--python", pythonWithPytest()], {
      cwd: REPO,
      encoding: "utf8",
    });
    stdout = run.stdout;
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(stdout).toMatch(/^\| strict worker ready \(fork \+ sandbox\), p50 \| \d+\.\d\d ms \|/m);
    expect(stdout).toMatch(/^\| strict worker ready, p99 \| \d+\.\d\d ms \|/m);
    for (const profile of ["none", "hermetic", "strict"]) {
      expect(stdout).toMatch(new RegExp(`--isolate ${profile}\`, median of 1 \\| \\d+\\.\\d\\d s`));
    }
    expect(stdout).toMatch(/^\| baseline: `bwrap --unshare-all python3 -c pass`, per test \| \d/m);
    expect(stdout).toContain("(50 passed)");
  });
});
