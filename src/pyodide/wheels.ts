// The wheels a Pyodide snapshot loads (issue 14: "packages come only from
// wheels Kiln vendors or the user points to"). Kiln vendors none: the npm
// package `pyodide` ships only the core (pyodide-lock.json names ~350
// packages, but their files live on a CDN, which Kiln never asks). So the
// user points to them: `--wheel PATH` (repeatable) on `kiln serve` and
// `kiln exec`, and `[tool.kiln.exec] wheels = [...]` in pyproject.toml,
// paths relative to that file. Each is checked here, before anything boots:
// a local file (a URL is refused: Kiln never fetches), a wheel by its name
// (PEP 427: name-version(-build)?-python-abi-platform.whl), and pure Python
// (abi `none`, platform `any`): a C extension must be built for Pyodide's
// Emscripten platform, and Kiln does not load those (their shared libraries
// are loaded outside the Wasm heap, which a memory snapshot does not keep).
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isTable, KilnConfigError, readKilnTable } from "../config/pyproject-kiln.js";

export class WheelError extends Error {
  override name = "WheelError";
}

export interface Wheel {
  /** Absolute path on the host. */
  path: string;
  /** The distribution's name as the file name spells it (PEP 427 escapes - as _). */
  name: string;
  version: string;
  /** sha256 of the file: part of the snapshot's key. */
  sha256: string;
  /** Where it was given, for error messages: "--wheel" or "<pyproject> [tool.kiln.exec] wheels". */
  from: string;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The wheels given by flag (relative to `cwd`) and by `[tool.kiln.exec] wheels` (relative to its file). */
export function resolveWheels(flagged: string[], cwd: string): Wheel[] {
  const given: { raw: string; base: string; from: string }[] = flagged.map((raw) => ({
    raw,
    base: cwd,
    from: "--wheel",
  }));
  const { path, table } = readKilnTable(cwd);
  const exec = table.exec;
  if (path !== undefined && exec !== undefined) {
    if (!isTable(exec)) throw new KilnConfigError(`${path}: [tool.kiln.exec] must be a table`);
    const listed = exec.wheels;
    const where = `${path} [tool.kiln.exec] wheels`;
    if (listed !== undefined) {
      if (!Array.isArray(listed) || listed.some((w) => typeof w !== "string")) {
        throw new KilnConfigError(`${where}: must be a list of paths to .whl files`);
      }
      for (const raw of listed as string[]) given.push({ raw, base: dirname(path), from: where });
    }
  }
  const wheels = given.map(({ raw, base, from }) => checkWheel(raw, base, from));
  const seen = new Map<string, Wheel>();
  for (const wheel of wheels) {
    const key = wheel.name.toLowerCase().replace(/[-_.]+/g, "_");
    const other = seen.get(key);
    if (other && other.sha256 !== wheel.sha256) {
      throw new WheelError(
        `two wheels for ${wheel.name}: ${other.path} (${other.from}) and ${wheel.path} (${wheel.from}); give one`,
      );
    }
    seen.set(key, wheel);
  }
  return [...seen.values()];
}

function checkWheel(raw: string, base: string, from: string): Wheel {
  if (URL_LIKE.test(raw)) {
    throw new WheelError(
      `${from} ${raw}: a URL; the pyodide runtime never fetches packages. Download the wheel and give its path`,
    );
  }
  const path = resolve(base, raw);
  const file = path.split("/").pop() ?? path;
  const parts = file.endsWith(".whl") ? file.slice(0, -4).split("-") : [];
  if (parts.length !== 5 && parts.length !== 6) {
    throw new WheelError(
      `${from} ${raw}: not a wheel's file name (want NAME-VERSION-PYTHON-ABI-PLATFORM.whl, as pip wheel writes)`,
    );
  }
  const [name, version] = parts as [string, string];
  const [python, abi, platform] = parts.slice(-3) as [string, string, string];
  if (abi !== "none" || platform !== "any" || !python.split(".").some((p) => p.startsWith("py3"))) {
    throw new WheelError(
      `${from} ${raw}: a wheel for ${python}-${abi}-${platform}; the pyodide runtime loads pure-Python wheels only (py3-none-any). C extensions must be built for Pyodide, and Kiln does not load those`,
    );
  }
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    bytes = readFileSync(path);
  } catch (error) {
    throw new WheelError(`${from} ${raw}: cannot read ${path}: ${(error as Error).message}`);
  }
  // A wheel is a zip archive (PEP 427): its local file header's signature.
  if (bytes.subarray(0, 4).toString("latin1") !== "PK\x03\x04") {
    throw new WheelError(`${from} ${raw}: not a zip archive, so not a wheel (${path})`);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { path, name, version, sha256, from };
}
