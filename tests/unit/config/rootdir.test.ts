// pytestRootdir against pytest itself: every layout is built in a temp dir,
// and each installed pytest (7.2, 8.4, 9.1) names its rootdir for the same
// invocation through its own Config (_prepareconfig), in one process each.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseArgs, pytestRootdir, shellSplit } from "../../../src/config/rootdir.js";

interface Case {
  name: string;
  files: Record<string, string>;
  /** Relative to the case's directory. */
  cwd: string;
  args: string[];
  addopts?: string;
}

const TEST = "def test_x():\n    pass\n";
const CASES: Case[] = [
  {
    name: "pytest.ini at the root, run from tests/",
    files: { "pytest.ini": "[pytest]\n", "tests/test_a.py": TEST },
    cwd: "tests",
    args: [],
  },
  {
    name: "pytest.ini at the root, a node id from the root",
    files: { "pytest.ini": "[pytest]\n", "tests/test_a.py": TEST },
    cwd: ".",
    args: ["tests/test_a.py::test_x", "-q"],
  },
  {
    name: "setup.py only, run from tests/",
    files: { "setup.py": "", "tests/test_a.py": TEST },
    cwd: "tests",
    args: [],
  },
  {
    name: "nothing at all, run from tests/",
    files: { "tests/test_a.py": TEST },
    cwd: "tests",
    args: [],
  },
  {
    name: "nothing at all, two files in sibling directories",
    files: { "a/test_a.py": TEST, "b/test_b.py": TEST },
    cwd: ".",
    args: ["a/test_a.py", "b/test_b.py"],
  },
  {
    name: "pyproject.toml without a pytest table (a rootdir from pytest 8.1)",
    files: { "proj/pyproject.toml": "[project]\nname = 'p'\n", "proj/tests/test_a.py": TEST },
    cwd: "proj/tests",
    args: [],
  },
  {
    name: "pyproject.toml [tool.pytest.ini_options], run from a subdirectory",
    files: {
      "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n",
      "tests/unit/test_a.py": TEST,
    },
    cwd: "tests/unit",
    args: [],
  },
  {
    // Any TOML spelling pytest's tomllib reads: a dotted key, a big integer.
    name: "pyproject.toml with the pytest table as a dotted key, inside a pytest.ini project",
    files: {
      "pytest.ini": "[pytest]\n",
      "proj/pyproject.toml":
        '[tool]\npytest.ini_options.addopts = "-q"\nother.big = 99999999999999999999\n',
      "proj/tests/test_a.py": TEST,
    },
    cwd: "proj/tests",
    args: [],
  },
  {
    name: "pyproject.toml [tool.pytest] (pytest 9) inside a tox.ini [pytest] project",
    files: {
      "tox.ini": "[tox]\n[pytest]\n",
      "proj/pyproject.toml": "[tool.pytest]\naddopts = ['-q']\n",
      "proj/tests/test_a.py": TEST,
    },
    cwd: "proj/tests",
    args: [],
  },
  {
    name: "pytest.toml (pytest 9) inside a pytest.ini project",
    files: {
      "pytest.ini": "[pytest]\n",
      "proj/pytest.toml": "[pytest]\n",
      "proj/tests/test_a.py": TEST,
    },
    cwd: "proj",
    args: ["tests"],
  },
  {
    name: "an empty .pytest.ini (pytest 9) inside a setup.cfg [tool:pytest] project",
    files: {
      "setup.cfg": "[metadata]\nname = x\n[tool:pytest]\n",
      "proj/.pytest.ini": "",
      "proj/test_a.py": TEST,
    },
    cwd: "proj",
    args: [],
  },
  {
    name: "setup.cfg without [tool:pytest] is not a config file",
    files: { "setup.cfg": "[metadata]\n", "sub/test_a.py": TEST },
    cwd: "sub",
    args: [],
  },
  {
    name: "--rootdir wins",
    files: { "pytest.ini": "[pytest]\n", "other/x.txt": "", "tests/test_a.py": TEST },
    cwd: "tests",
    args: ["--rootdir=../other"],
  },
  {
    name: "-c names the ini file, and its directory is the rootdir",
    files: { "pytest.ini": "[pytest]\n", "conf/custom.ini": "[pytest]\n", "tests/test_a.py": TEST },
    cwd: ".",
    args: ["-c", "conf/custom.ini", "tests"],
  },
  {
    name: "PYTEST_ADDOPTS counts",
    files: { "pytest.ini": "[pytest]\n", "elsewhere/x.txt": "", "tests/test_a.py": TEST },
    cwd: "tests",
    args: [],
    addopts: "--rootdir ../elsewhere",
  },
  {
    name: "the value of -k is not a path",
    files: { "a/tests/test_a.py": TEST, "a/setup.py": "", "tests/x.txt": "" },
    cwd: "a",
    args: ["-k", "../tests", "tests"],
  },
];

const PYTHONS = [
  "/usr/bin/python3",
  "/work/venvs/pytest-8.4/bin/python",
  "/work/venvs/pytest-9.1/bin/python",
].filter((p) => existsSync(p) && spawnSync(p, ["-c", "import pytest"]).status === 0);

const ORACLE = `
import json, os, sys
import pytest
from _pytest.config import _prepareconfig
out = {"version": pytest.__version__, "rootdirs": []}
for case in json.load(sys.stdin):
    os.chdir(case["cwd"])
    os.environ.pop("PYTEST_ADDOPTS", None)
    if case.get("addopts"):
        os.environ["PYTEST_ADDOPTS"] = case["addopts"]
    config = _prepareconfig(list(case["args"]))
    try:
        out["rootdirs"].append(str(config.rootpath))
    finally:
        config._ensure_unconfigure()
print(json.dumps(out))
`;

const base = realpathSync(mkdtempSync(join(tmpdir(), "kiln-rootdir-")));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const laidOut = CASES.map((c, i) => {
  const dir = join(base, String(i));
  for (const [rel, text] of Object.entries(c.files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return { ...c, cwd: join(dir, c.cwd) };
});

describe.each(PYTHONS)("pytestRootdir agrees with %s", (python) => {
  const r = spawnSync(python, ["-c", ORACLE], {
    input: JSON.stringify(laidOut),
    encoding: "utf8",
    env: { ...process.env, PYTEST_DISABLE_PLUGIN_AUTOLOAD: "1", PYTHONDONTWRITEBYTECODE: "1" },
  });
  const oracle = JSON.parse(r.stdout || "null") as { version: string; rootdirs: string[] } | null;

  it.each(laidOut.map((c, i) => [c.name, i] as const))("%s", (_, i) => {
    expect(oracle, r.stderr).not.toBeNull();
    const c = laidOut[i] as (typeof laidOut)[number];
    const env = c.addopts ? { PYTEST_ADDOPTS: c.addopts } : {};
    const ours = pytestRootdir({
      cwd: c.cwd,
      args: c.args,
      env,
      pytestVersion: oracle?.version,
    });
    expect(ours).toBe(oracle?.rootdirs[i]);
  });
});

describe("argument parsing", () => {
  it("skips option values and keeps paths, -c and --rootdir", () => {
    expect(
      parseArgs(["-k", "tests", "-rA", "--tb=short", "a.py", "-c", "x.ini", "--rootdir", "r"]),
    ).toEqual({ positional: ["a.py"], inifile: "x.ini", rootdir: "r" });
    expect(parseArgs(["--config-file=y.ini", "--", "-odd"])).toEqual({
      positional: ["-odd"],
      inifile: "y.ini",
      rootdir: undefined,
    });
  });

  it("splits PYTEST_ADDOPTS as shlex does", () => {
    expect(shellSplit(`-k "a and b" --x='y z' c\\ d`)).toEqual(["-k", "a and b", "--x=y z", "c d"]);
  });
});
