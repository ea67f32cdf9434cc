// Kiln's channels are out of user code's way: a test that closes or writes
// to fd 3 (the worker's socket, before) is a test like any other.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runKilnRecorded } from "../helpers/kiln.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-fds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "pytest.ini"), "[pytest]\n");
writeFileSync(
  join(dir, "test_fds.py"),
  [
    "import os",
    "",
    "def test_close_fd_3():",
    "    os.close(3)",
    "",
    "def test_write_fd_3():",
    "    try:",
    "        os.write(3, b'garbage')",
    "    except OSError:",
    "        pass",
    "",
    "def test_after():",
    "    assert True",
    "",
  ].join("\n"),
);

describe("fd 3 in a test", () => {
  it.each(["1", "2"])("is not Kiln's channel (-n %s)", async (workers) => {
    const { result, recorded } = await runKilnRecorded(["-n", workers, "-p", "no:cacheprovider"], {
      cwd: dir,
    });
    expect(result.stdout).not.toContain("crashed");
    expect(recorded.outcomes).toEqual({
      "test_fds.py::test_close_fd_3": "passed",
      "test_fds.py::test_write_fd_3": "passed",
      "test_fds.py::test_after": "passed",
    });
    expect(result.code).toBe(0);
  });
});
