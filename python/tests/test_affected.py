"""kiln_harness.affected in a real pytest session (pytester, in process)."""

import pytest

from kiln_harness.affected import ImportTracker, SelectionFilter

pytest_plugins = ["pytester"]


class FakeChannel:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


@pytest.fixture
def project(pytester):
    pytester.syspathinsert()
    pytester.makepyfile(
        **{
            "lib_a.py": "X = 1\n",
            "lib_b.py": "Y = 2\n",
            "proxy.py": (
                "class Raising:\n"
                "    def __getattribute__(self, name):\n"
                "        raise RuntimeError('working outside of a request')\n"
                "P = Raising()\n"
            ),
            "test_one.py": (
                "import importlib\n"
                "from proxy import P\n"
                "a = importlib.import_module('lib_' + 'a')\n\n"
                "def test_a():\n    assert a.X == 1\n"
            ),
            "test_two.py": "def test_b():\n    assert True\n",
        }
    )
    return pytester


def test_tracker_records_what_each_test_module_loaded_at_collection(project):
    chan = FakeChannel()
    tracker = ImportTracker(chan)
    result = project.inline_run("-p", "no:cacheprovider", plugins=[tracker])
    result.assertoutcome(passed=2)
    [message] = [m for m in chan.sent if m["type"] == "imports:recorded"]
    # proxy.py comes from `from proxy import P`'s import; P itself, which
    # raises on any attribute, names nothing and breaks nothing.
    assert message["files"]["test_one.py"] == ["lib_a.py", "proxy.py"]
    assert message["files"]["test_two.py"] == []


def test_tracker_in_a_worker_attributes_new_modules_to_the_test_file(project):
    tracker = ImportTracker(FakeChannel())
    tracker.rootdir = str(project.path)
    tracker.begin_worker()
    import importlib
    import sys

    sys.modules.pop("lib_b", None)
    importlib.import_module("lib_b")

    class Item:
        path = project.path / "test_two.py"

    tracker.after_item(Item())
    assert tracker.worker_message() == {
        "type": "imports:recorded",
        "files": {"test_two.py": ["lib_b.py"]},
        "session": [],
    }


def test_selection_filter_skips_unselected_candidates_only(project):
    select = {
        "rootdir": str(project.path),
        "files": ["test_two.py"],
        "candidates": ["test_one.py", "test_two.py"],
        "note": "kiln: --changed HEAD: 1 file changed, 1 of 2 test files selected",
    }
    result = project.runpytest_inprocess(
        "-p", "no:cacheprovider", "test_one.py", "test_two.py", plugins=[SelectionFilter(select)]
    )
    # test_one.py was named on the command line, so it is collected, then
    # deselected: pytest's own summary counts it.
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["kiln: --changed HEAD: 1 file changed, 1 of 2 test files selected"])
    # Found by collection: not even imported.
    plain = project.runpytest_inprocess("-p", "no:cacheprovider", plugins=[SelectionFilter(select)])
    plain.assert_outcomes(passed=1)
    plain.stdout.fnmatch_lines(["collected 1 item"])


def test_selection_filter_stands_down_for_another_rootdir(project):
    select = {"rootdir": "/elsewhere", "files": [], "candidates": ["test_one.py"], "note": "n"}
    result = project.runpytest_inprocess("-p", "no:cacheprovider", plugins=[SelectionFilter(select)])
    result.assert_outcomes(passed=2)
    result.stderr.fnmatch_lines(["*the test selection was made for /elsewhere*running every test"])


def test_selection_filter_runs_only_the_named_items(pytester):
    # `kiln watch`'s "failed only": the items named, of the files selected.
    pytester.makepyfile(
        test_many="def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef test_c():\n    pass\n",
        test_other="def test_d():\n    pass\n",
    )
    select = {
        "rootdir": str(pytester.path),
        "files": ["test_many.py"],
        "candidates": ["test_many.py", "test_other.py"],
        "note": "kiln: watch: failed only",
        "nodeids": ["test_many.py::test_a", "test_many.py::test_c"],
    }
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-v", plugins=[SelectionFilter(select)]
    )
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*test_many.py::test_a PASSED*", "*test_many.py::test_c PASSED*"])
    result.stdout.no_fnmatch_line("*test_b*")
    result.stdout.no_fnmatch_line("*test_d*")
