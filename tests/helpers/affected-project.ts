// A small generated project for the affected-test selection's e2e tests:
// modules importing each other (an indirect chain), constants the tests
// assert on, conftest fixtures at two levels, a module a test imports under
// a computed name (only the recorded imports can see it), and a data file a
// test reads. Each test's outcome depends on one of those, so an edit flips
// exactly the tests that depend on it.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const AFFECTED_PROJECT: Record<string, string> = {
  "pyproject.toml":
    '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n' +
    '\n[tool.kiln]\nwatch-ignore = ["docs/"]\n' +
    '\n[tool.kiln.watch-trigger]\n"data/*.txt" = "tests/test_data.py"\n',
  "lib/__init__.py": "",
  "lib/consts.py": "A = 1\nB = 2\n",
  "lib/mid.py": "from lib import consts\n\n\ndef a():\n    return consts.A\n",
  "lib/top.py": "from lib.mid import a\n\n\ndef value():\n    return a() * 10\n",
  "lib/plugins/__init__.py": "",
  "lib/plugins/p0.py": "VALUE = 3\n",
  "lib/data.py":
    "import pathlib\n\n\ndef load():\n" +
    '    return int((pathlib.Path(__file__).parent.parent / "data" / "values.txt").read_text())\n',
  "data/values.txt": "5\n",
  "docs/index.md": "# docs\n",
  "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef base():\n    return 100\n",
  "tests/unit/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef factor():\n    return 2\n",
  "tests/unit/test_top.py":
    "from lib.top import value\n\n\ndef test_value():\n    assert value() == 10\n",
  "tests/unit/test_consts.py":
    "from lib import consts\n\n\ndef test_b(factor):\n    assert consts.B * factor == 4\n",
  "tests/test_plugins.py":
    "import importlib\n\nNAMES = ['p' + str(i) for i in range(1)]\n\n\n" +
    "def test_plugin():\n" +
    "    module = importlib.import_module('lib.plugins.' + NAMES[0])\n" +
    "    assert module.VALUE == 3\n",
  "tests/test_data.py": "from lib.data import load\n\n\ndef test_load():\n    assert load() == 5\n",
  // Imported as `helpers`: pytest's prepend import mode puts tests/ on sys.path.
  "tests/helpers.py": "EXPECTED = 100\n",
  "tests/test_base.py":
    "from helpers import EXPECTED\n\n\ndef test_base(base):\n    assert base == EXPECTED\n",
};

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
}

function git(dir: string, ...args: string[]): void {
  const r = spawnSync("git", args, {
    cwd: dir,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "kiln",
      GIT_AUTHOR_EMAIL: "kiln@example.com",
      GIT_COMMITTER_NAME: "kiln",
      GIT_COMMITTER_EMAIL: "kiln@example.com",
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
}

/** A git repository holding the project, everything committed. */
export function gitProject(dir: string, files: Record<string, string> = AFFECTED_PROJECT): void {
  writeFiles(dir, { ...files, ".gitignore": ".kiln/\n.pytest_cache/\n__pycache__/\n" });
  git(dir, "init", "-q");
  commitAll(dir);
}

export function commitAll(dir: string): void {
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "--allow-empty", "-m", "state");
}
