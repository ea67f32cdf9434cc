// The interpreters of the support matrix: Debian's pytest 7.2 and the venvs
// with pytest 8.4 and 9.1 that scripts/setup.sh creates under .venvs/.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./kiln.js";

export const PYTEST_VERSIONS = ["7.2", "8.4", "9.1"] as const;
export type PytestVersion = (typeof PYTEST_VERSIONS)[number];

/**
 * The interpreter whose pytest is `version`. The venvs live in <repo>/.venvs
 * (KILN_VENVS names another folder holding pytest-8.4/ and pytest-9.1/). A
 * missing one is a set-up error, never a skipped test: CI must run them all.
 */
export function pythonFor(version: PytestVersion): string {
  if (version === "7.2") return "/usr/bin/python3";
  const roots = [process.env.KILN_VENVS, join(REPO, ".venvs")].filter(
    (root): root is string => root !== undefined && root !== "",
  );
  for (const root of roots) {
    const python = join(root, `pytest-${version}`, "bin", "python");
    if (existsSync(python)) return python;
  }
  throw new Error(
    `no venv with pytest ${version} under ${roots.join(" or ")}: run scripts/setup.sh`,
  );
}
