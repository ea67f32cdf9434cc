// Which runtime `kiln serve` / `kiln exec` use without --runtime (issue 14):
// native where the strict profile can be applied (Linux with user
// namespaces and seccomp, DESIGN.md section 4), pyodide elsewhere, with a
// one-line note saying why.
import { detectPlatformFeatures } from "../sandbox/features.js";
import { RUNTIMES, type Runtime } from "./exec-pool.js";

export interface RuntimeChoice {
  runtime: Runtime;
  /** Set when the default fell to pyodide: why, in one line. */
  note?: string;
}

export function chooseRuntime(asked: string | undefined): RuntimeChoice {
  if (asked !== undefined) {
    if (!(RUNTIMES as readonly string[]).includes(asked)) {
      throw new RuntimeUsageError(`--runtime ${asked}: one of ${RUNTIMES.join(", ")}`);
    }
    return { runtime: asked as Runtime };
  }
  if (process.platform !== "linux") {
    return {
      runtime: "pyodide",
      note: `kiln: runtime pyodide (the strict profile needs Linux namespaces; this is ${process.platform})`,
    };
  }
  const missing = detectPlatformFeatures()
    .filter((f) => (f.name === "user namespaces" || f.name === "seccomp") && !f.available)
    .map((f) => f.name);
  if (missing.length) {
    return {
      runtime: "pyodide",
      note: `kiln: runtime pyodide (the strict profile needs ${missing.join(" and ")}, which this host forbids)`,
    };
  }
  return { runtime: "native" };
}

export class RuntimeUsageError extends Error {
  override name = "RuntimeUsageError";
}
