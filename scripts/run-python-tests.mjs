// Runs the harness's own pytest suite (python/tests) with an interpreter that
// has pytest: KILN_TEST_PYTHON, else Debian's /usr/bin/python3, else python3.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const candidates = [process.env.KILN_TEST_PYTHON, "/usr/bin/python3", "python3"].filter(Boolean);
const python = candidates.find(
  (c) => spawnSync(c, ["-c", "import pytest"], { stdio: "ignore" }).status === 0,
);
if (!python) {
  console.error(
    "run-python-tests: no interpreter with pytest (tried " +
      `${candidates.join(", ")}). Run scripts/setup.sh or set KILN_TEST_PYTHON.`,
  );
  process.exit(4);
}
const result = spawnSync(
  python,
  ["-m", "pytest", "python/tests", "-q", "-p", "no:cacheprovider", ...process.argv.slice(2)],
  { cwd: repo, stdio: "inherit", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
);
process.exit(result.status ?? 1);
