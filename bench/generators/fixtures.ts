// The "fixture-heavy" suite: session, module, class and function fixtures
// (yield, finalizers, a four-level chain, autouse), parametrized tests and a
// parametrized module-scoped fixture, which makes pytest reorder items to
// share set-ups; tmp_path in a few tests.
import { type ProjectFiles, pyproject } from "./files.js";

export interface FixtureSize {
  files: number;
}

const CONFTEST = `import pytest


@pytest.fixture(scope="session")
def catalog():
    # Built once per process: the set-up cost a session fixture exists to share.
    return {f"key{i}": i * i for i in range(20000)}


@pytest.fixture(scope="session")
def settings(catalog):
    return {"size": len(catalog), "mode": "bench"}


@pytest.fixture(autouse=True)
def bench_env(monkeypatch):
    monkeypatch.setenv("BENCH_MODE", "1")


@pytest.fixture
def base(settings):
    return settings["size"]


@pytest.fixture
def level1(base):
    return base + 1


@pytest.fixture
def level2(level1):
    yield level1 + 1


@pytest.fixture
def level3(level2, request):
    request.addfinalizer(lambda: None)
    return level2 + 1
`;

function testModule(index: number): string {
  return `import pytest


@pytest.fixture(scope="module")
def table(catalog):
    rows = list(catalog.items())[:${100 + index}]
    yield rows
    rows.clear()


@pytest.fixture(scope="module", params=["json", "csv", "xml"])
def fmt(request):
    return request.param


class TestTable${index}:
    @pytest.fixture(scope="class")
    def index(self, table):
        return dict(table)

    @pytest.mark.parametrize("n", range(6))
    def test_lookup(self, index, n):
        assert index[f"key{n}"] == n * n

    def test_size(self, index, settings):
        assert len(index) <= settings["size"]


@pytest.mark.parametrize("a", range(3))
@pytest.mark.parametrize("b", ["x", "y"])
def test_cross(a, b, level3, settings):
    assert level3 == settings["size"] + 3
    assert b in "xy" and 0 <= a < 3


def test_format(fmt, table):
    assert fmt in ("json", "csv", "xml") and table


@pytest.mark.parametrize("k", range(4))
def test_chain(k, level3, base):
    assert level3 - base == 3


def test_tmp(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    path.write_text(fmt)
    assert path.read_text() == fmt
`;
}

/** Items per test module: 7 in the class, 6 cross, 3 format, 4 chain, 3 tmp. */
export const FIXTURE_ITEMS_PER_FILE = 23;

export function fixtureProject(size: FixtureSize): ProjectFiles {
  const files: ProjectFiles = new Map([
    ["pyproject.toml", pyproject()],
    ["tests/conftest.py", CONFTEST],
  ]);
  for (let f = 0; f < size.files; f++) files.set(`tests/test_fixtures_${f}.py`, testModule(f));
  return files;
}
