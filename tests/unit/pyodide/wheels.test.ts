// resolveWheels (src/pyodide/wheels.ts): what is checked before anything
// boots. The e2e file exec-pyodide-wheels.test.ts loads real wheels; here,
// the cases that need no Pyodide: accepted tags, the TOML key's shape, two
// different wheels for one distribution, and the sidecar's format.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KilnConfigError } from "../../../src/config/pyproject-kiln.js";
import { packFiles, unpackFiles } from "../../../src/pyodide/installed-files.js";
import { resolveWheels, WheelError } from "../../../src/pyodide/wheels.js";
import { tempDir } from "../../helpers/temp.js";

/** A file that starts as a zip archive does (the content is not read further here). */
function zipLike(dir: string, name: string, body = ""): string {
  const path = join(dir, name);
  writeFileSync(path, `PK\u0003\u0004${body}`);
  return path;
}

describe("resolveWheels", () => {
  it("accepts pure-Python tags (py3, py2.py3) and reads name, version and sha256", () => {
    const dir = tempDir();
    zipLike(dir, "a_b-1.0-py3-none-any.whl");
    zipLike(dir, "c-2.1-1build-py2.py3-none-any.whl");
    const wheels = resolveWheels(
      ["a_b-1.0-py3-none-any.whl", "c-2.1-1build-py2.py3-none-any.whl"],
      dir,
    );
    expect(wheels.map((w) => [w.name, w.version, w.path])).toEqual([
      ["a_b", "1.0", join(dir, "a_b-1.0-py3-none-any.whl")],
      ["c", "2.1", join(dir, "c-2.1-1build-py2.py3-none-any.whl")],
    ]);
    expect(wheels[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses py2-only and platform wheels", () => {
    const dir = tempDir();
    zipLike(dir, "old-1.0-py2-none-any.whl");
    zipLike(dir, "fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl");
    expect(() => resolveWheels(["old-1.0-py2-none-any.whl"], dir)).toThrow(WheelError);
    expect(() =>
      resolveWheels(["fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"], dir),
    ).toThrow(/pure-Python wheels only/);
  });

  it("reads [tool.kiln.exec] wheels relative to pyproject.toml, and checks its shape", () => {
    const dir = tempDir();
    zipLike(dir, "t-1.0-py3-none-any.whl");
    writeFileSync(
      join(dir, "pyproject.toml"),
      '[tool.kiln.exec]\nwheels = ["t-1.0-py3-none-any.whl"]\n',
    );
    expect(resolveWheels([], dir).map((w) => w.path)).toEqual([
      join(dir, "t-1.0-py3-none-any.whl"),
    ]);
    writeFileSync(
      join(dir, "pyproject.toml"),
      '[tool.kiln.exec]\nwheels = "t-1.0-py3-none-any.whl"\n',
    );
    expect(() => resolveWheels([], dir)).toThrow(KilnConfigError);
    expect(() => resolveWheels([], dir)).toThrow(/must be a list of paths/);
  });

  it("takes one wheel given twice once, and refuses two different ones for one distribution", () => {
    const dir = tempDir();
    const other = tempDir();
    zipLike(dir, "t-1.0-py3-none-any.whl", "one");
    zipLike(other, "T-1.0-py3-none-any.whl", "two");
    expect(resolveWheels(["t-1.0-py3-none-any.whl", "t-1.0-py3-none-any.whl"], dir)).toHaveLength(
      1,
    );
    expect(() =>
      resolveWheels(["t-1.0-py3-none-any.whl", join(other, "T-1.0-py3-none-any.whl")], dir),
    ).toThrow(/two wheels for T/);
  });
});

describe("the installed files beside a snapshot", () => {
  it("round-trips paths (utf-8) and bytes", () => {
    const files = [
      { path: "/lib/python3.14/site-packages/p/__init__.py", data: new Uint8Array([1, 2, 3]) },
      { path: "/lib/python3.14/site-packages/p/données.txt", data: new Uint8Array() },
    ];
    const back = unpackFiles(packFiles(files));
    expect(back.map((f) => [f.path, [...f.data]])).toEqual(files.map((f) => [f.path, [...f.data]]));
  });
});
