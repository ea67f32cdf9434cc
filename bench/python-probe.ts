// One look at the interpreter: its version and which of the benchmarked
// plugins it can import, so unavailable commands are left out, not failed.
import { spawnSync } from "node:child_process";
import { benchEnv } from "./env.js";

export interface PythonProbe {
  python: string;
  version: string;
  /** Module name -> version ("" when the module has no __version__), absent when not importable. */
  modules: Record<string, string>;
}

const PROBED = ["pytest", "xdist", "pytest_forked", "numpy"];

const SCRIPT = `
import importlib, json, platform
mods = {}
for name in ${JSON.stringify(PROBED)}:
    try:
        mod = importlib.import_module(name)
    except Exception:
        continue
    version = getattr(mod, "__version__", "")
    if not version:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version(name.replace("_", "-"))
        except Exception:
            version = ""
    mods[name] = version
print(json.dumps({"version": platform.python_version(), "modules": mods}))
`;

export function probePython(python: string): PythonProbe {
  const result = spawnSync(python, ["-c", SCRIPT], { encoding: "utf8", env: benchEnv() });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : result.stderr.trim();
    throw new Error(`cannot run ${python}: ${why}`);
  }
  const parsed = JSON.parse(result.stdout) as Omit<PythonProbe, "python">;
  if (parsed.modules.pytest === undefined) {
    throw new Error(`${python} cannot import pytest; pass --python with one that can`);
  }
  return { python, ...parsed };
}
