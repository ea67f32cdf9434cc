// What the isolation profiles do to the files a run writes, beyond the
// escape attempts: strict's file size limit applies to pytest's own capture
// file, and what pytest writes in the zygote (--junitxml, say) must land
// where the user asked for it.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runKiln } from "../helpers/kiln.js";
import { copyProject, tempDir } from "../helpers/temp.js";

describe("strict's default file size limit (1 MiB)", () => {
  it("stops a test whose captured output outgrows it, and the failure says so", async () => {
    // pytest's fd capture writes a test's output to a temporary file
    // (_pytest/capture.py FDCapture), which RLIMIT_FSIZE bounds like any
    // other; CPython ignores SIGXFSZ, so write(2) fails with EFBIG.
    const dir = copyProject("big_output");
    const result = await runKiln(
      [
        "test",
        "--isolate",
        "strict",
        "-p",
        "no:cacheprovider",
        "test_big.py::test_big_stdout_and_stderr_pass",
        "test_big.py::test_small_after_big",
      ],
      { cwd: dir },
    );
    expect(result.stdout).toContain("OSError: [Errno 27] File too large");
    expect(result.stdout).toMatch(/1 failed, 1 passed/);
    expect(result.code).toBe(1);
  });
});

describe("a file pytest writes in the zygote, under the host's /tmp", () => {
  // Only workers get the private /tmp: pytest's plugins in the zygote
  // (junitxml, the parity tool's outcome recorder) write where the user
  // asked. With the zygote inside it, the file went to the private tmpfs
  // and was lost, while pytest said "generated xml file".
  it.for(["hermetic", "strict"])(
    "--junitxml lands on the host's /tmp (--isolate %s)",
    async (profile) => {
      const dir = copyProject("demo");
      const out = join(tempDir("kiln-junit-out-"), "reports");
      mkdirSync(out);
      const xml = join(out, "junit.xml");
      const result = await runKiln(
        ["test", "--isolate", profile, "-q", "-p", "no:cacheprovider", `--junitxml=${xml}`],
        { cwd: dir },
      );
      expect(result.stdout).toContain("generated xml file");
      expect(existsSync(xml), `${xml} is missing`).toBe(true);
    },
  );
});
