// Example projects that need third-party pytest plugins (parity.json's
// "requires": importable module names). Those plugins live only in the venvs
// of the support matrix, not in Debian's python3, so these projects run under
// the pytest 9.1 venv, the interpreter their expected/*.json was recorded with
// (scripts/regenerate-expected.mjs). Without that venv a developer's run skips
// them with the reason printed; CI (CI=true) fails instead, since it must run
// every example project.
import { spawnSync } from "node:child_process";
import { type PytestVersion, pythonFor } from "./pythons.js";

export type PluginPython =
  | { python: string; skip?: undefined }
  | { python?: undefined; skip: string };

/** Whether `python` can import every module in `modules`. */
export function canImport(python: string, modules: readonly string[]): boolean {
  const code = modules.map((m) => `import ${m}`).join("; ");
  return spawnSync(python, ["-c", code], { stdio: "ignore" }).status === 0;
}

/** The interpreter of `version` when it has `modules`; else why not (a skip, or a throw in CI). */
export function pluginPython(
  modules: readonly string[],
  version: PytestVersion = "9.1",
): PluginPython {
  let python: string;
  try {
    python = pythonFor(version);
  } catch (error) {
    return notAvailable(`${String(error instanceof Error ? error.message : error)}`);
  }
  if (!canImport(python, modules)) {
    return notAvailable(`${python} cannot import ${modules.join(", ")}: run scripts/setup.sh`);
  }
  return { python };
}

function notAvailable(reason: string): PluginPython {
  if (process.env.CI === "true") {
    throw new Error(`CI must run the plugin projects, but: ${reason}`);
  }
  process.stderr.write(`skipping plugin projects: ${reason}\n`);
  return { skip: reason };
}
