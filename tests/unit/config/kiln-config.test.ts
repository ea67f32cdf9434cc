import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  findPyproject,
  isolationSettings,
  KilnConfigError,
  loadKilnConfig,
} from "../../../src/config/kiln-config.js";
import { parseKilnTable } from "../../../src/config/pyproject-kiln.js";

const parseKilnToml = (text: string, path: string) =>
  isolationSettings(parseKilnTable(text, path), path);

import { tempDir } from "../../helpers/temp.js";

describe("[tool.kiln] in pyproject.toml", () => {
  it("reads isolate and the limits, and skips every other table", () => {
    const text = [
      "[project]",
      'name = "demo"',
      'isolate = "not ours"',
      "",
      "[tool.kiln]",
      "report = [",
      '  "junit",',
      "]",
      "fast = true",
      'isolate = "strict"  # untrusted code',
      "",
      "[tool.kiln.limits]",
      "cpu_seconds = 10",
      "address_space_mb = 2_048",
      "open_files = 128",
      "",
      "[tool.pytest.ini_options]",
      'addopts = "-q"',
    ].join("\n");
    expect(parseKilnToml(text, "pyproject.toml")).toEqual({
      isolate: "strict",
      limits: { cpuSeconds: 10, addressSpaceMb: 2048, openFiles: 128 },
    });
  });

  it("refuses an unknown profile, an unknown limit and a bad value, with the line", () => {
    expect(() => parseKilnToml('[tool.kiln]\nisolate = "sealed"\n', "p.toml")).toThrow(
      /p\.toml \[tool\.kiln\] isolate: unknown isolation profile "sealed"/,
    );
    expect(() => parseKilnToml("[tool.kiln.limits]\nram = 5\n", "p.toml")).toThrow(
      /p\.toml \[tool\.kiln\.limits\] ram: unknown limit "ram"; known: address_space_mb/,
    );
    expect(() => parseKilnToml("[tool.kiln.limits]\nprocesses = 0\n", "p.toml")).toThrow(
      KilnConfigError,
    );
    expect(() => parseKilnToml("[tool.kiln.limits]\nprocesses = [1]\n", "p.toml")).toThrow(
      /processes: must be a whole number > 0, got 1/,
    );
  });

  it("uses the nearest pyproject.toml above the working directory", () => {
    const root = tempDir("kiln-config-");
    writeFileSync(join(root, "pyproject.toml"), '[tool.kiln]\nisolate = "hermetic"\n');
    const sub = join(root, "pkg", "tests");
    mkdirSync(sub, { recursive: true });
    expect(findPyproject(sub)).toBe(join(root, "pyproject.toml"));
    expect(loadKilnConfig(sub).isolate).toBe("hermetic");
  });
});
