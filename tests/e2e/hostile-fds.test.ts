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
// A test that goes looking for descriptors still reaches the channel.
writeFileSync(
  join(dir, "test_zz_every_fd.py"),
  [
    "import os",
    "",
    "def test_before():",
    "    pass",
    "",
    "def test_writes_garbage_everywhere():",
    "    for fd in range(3, 4096):",
    "        try:",
    "            os.write(fd, b'garbage!garbage!')",
    "        except OSError:",
    "            pass",
    "",
    "def test_later_1():",
    "    pass",
    "",
    "def test_later_2():",
    "    pass",
    "",
  ].join("\n"),
);

describe("fd 3 in a test", () => {
  it.each(["1", "2"])("is not Kiln's channel (-n %s)", async (workers) => {
    const { result, recorded } = await runKilnRecorded(
      ["-n", workers, "-p", "no:cacheprovider", "test_fds.py"],
      { cwd: dir },
    );
    expect(result.stdout).not.toContain("crashed");
    expect(recorded.outcomes).toEqual({
      "test_fds.py::test_close_fd_3": "passed",
      "test_fds.py::test_write_fd_3": "passed",
      "test_fds.py::test_after": "passed",
    });
    expect(result.code).toBe(0);
  });
});

describe("a test that writes into Kiln's channel anyway", () => {
  it.each(["1", "2"])(
    "fails alone, with the reason, and the rest runs (-n %s)",
    async (workers) => {
      const { result, recorded } = await runKilnRecorded(
        ["-n", workers, "-p", "no:cacheprovider", "test_zz_every_fd.py"],
        { cwd: dir },
      );
      expect(recorded.outcomes).toEqual({
        "test_zz_every_fd.py::test_before": "passed",
        "test_zz_every_fd.py::test_writes_garbage_everywhere": "failed",
        "test_zz_every_fd.py::test_later_1": "passed",
        "test_zz_every_fd.py::test_later_2": "passed",
      });
      expect(result.stdout).toContain("wrote into the worker's channel to Kiln");
      // No worker traceback, no supervisor-level protocol error: one failed test.
      expect(result.stderr).not.toContain("Traceback");
      expect(result.stderr).not.toContain("protocol error");
      expect(result.code).toBe(1);
    },
  );
});
