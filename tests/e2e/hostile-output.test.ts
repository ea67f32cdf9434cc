// Huge captured output (issue 9, item 4): a test that prints hundreds of MB
// passes as under pytest, a failing one shows the same captured sections as
// pytest, and the run record keeps a clipped copy instead of the whole text.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pythonWithPytest, runKiln } from "../helpers/kiln.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-huge-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
writeFileSync(
  join(dir, "test_huge.py"),
  [
    "import sys",
    "import pytest",
    "",
    "LINE = 'x' * 1023 + '\\n'",
    "",
    "def test_prints_200_mb():",
    "    for _ in range(200 * 1024):",
    "        sys.stdout.write(LINE)",
    "",
    "@pytest.fixture",
    "def noisy():",
    "    print('setup says hello')",
    "    yield",
    "    print('teardown says goodbye')",
    "",
    "def test_fails_after_20_mb(noisy):",
    "    for i in range(20 * 1024):",
    "        sys.stdout.write(f'{i:07d} ' + LINE[8:])",
    "    assert False",
    "",
    "def test_after():",
    "    print('small')",
    "",
  ].join("\n"),
);

function failures(stdout: string): string {
  const start = stdout.indexOf("= FAILURES =");
  const end = stdout.indexOf("short test summary info");
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return stdout.slice(start, end);
}

describe("huge captured output", () => {
  it("passes a 200 MB test, shows pytest's sections, and keeps the record small", async () => {
    const kiln = await runKiln(["test", "-n", "1", "-p", "no:cacheprovider", "-rfE"], {
      cwd: dir,
      timeoutMs: 120_000,
    });
    expect(kiln.stderr).not.toContain("ProtocolError");
    expect(kiln.stdout).toMatch(/1 failed, 2 passed/);
    expect(kiln.code).toBe(1);

    // Each phase's section once, in full: the zygote got the whole text
    // through the scratch file even though the frame would have been too big.
    const pytest = spawnSync(
      pythonWithPytest(),
      ["-m", "pytest", "-p", "no:cacheprovider", "-rfE", "-k", "fails_after"],
      { cwd: dir, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
    );
    const expected = failures(pytest.stdout);
    expect(expected.length).toBeGreaterThan(20 * 1024 * 1024);
    expect(failures(kiln.stdout)).toBe(expected);

    // The record holds each section once and clipped: far below the output.
    const results = join(dir, ".kiln", "runs", "latest", "results.jsonl");
    expect(statSync(results).size).toBeLessThan(8 * 1024 * 1024);
    const text = readFileSync(results, "utf8");
    expect(text).toContain("left out of the run record");
    expect(text.match(/Captured stdout call/g)).toHaveLength(3);
    expect(text.match(/setup says hello/g)).toHaveLength(1);
  }, 180_000);
});
