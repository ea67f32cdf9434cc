"""Tests for kiln_harness.outcome_recorder, on small projects run by pytester."""

import json
import os
import sys

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

from kiln_harness import outcome_recorder  # noqa: E402

pytest_plugins = ["pytester"]

PLUGIN = "kiln_harness.outcome_recorder"


@pytest.fixture
def outcomes_file(tmp_path, monkeypatch):
    path = tmp_path / "out" / "outcomes.json"
    monkeypatch.setenv(outcome_recorder.ENV_VAR, str(path))
    return path


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _outcomes_part(path):
    """Only the exit code and outcomes (the texts have tests of their own)."""
    data = _read(path)
    return {"exit_code": data["exit_code"], "outcomes": data["outcomes"]}


def test_basic_outcomes(pytester, outcomes_file):
    pytester.makepyfile(
        test_one="""
        import pytest

        def test_pass():
            pass

        def test_fail():
            assert 1 == 2

        @pytest.mark.skip(reason="no")
        def test_skip():
            pass

        def test_skip_inside():
            pytest.skip("inside")

        @pytest.mark.xfail(reason="bug")
        def test_xfail():
            assert False

        @pytest.mark.xfail(reason="bug")
        def test_xpass():
            pass

        @pytest.mark.xfail(reason="bug", strict=True)
        def test_xpass_strict():
            pass

        def test_xfail_imperative():
            pytest.xfail("later")

        @pytest.mark.xfail(run=False, reason="not run")
        def test_xfail_not_run():
            pass

        @pytest.mark.parametrize("n", [1, 2], ids=["a", "b"])
        def test_param(n):
            assert n == 1

        class TestGroup:
            def test_method(self):
                pass
        """
    )
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 1
    data = _outcomes_part(outcomes_file)
    assert data == {
        "exit_code": 1,
        "outcomes": {
            "test_one.py::test_pass": "passed",
            "test_one.py::test_fail": "failed",
            "test_one.py::test_skip": "skipped",
            "test_one.py::test_skip_inside": "skipped",
            "test_one.py::test_xfail": "xfailed",
            "test_one.py::test_xpass": "xpassed",
            "test_one.py::test_xpass_strict": "failed",
            "test_one.py::test_xfail_imperative": "xfailed",
            "test_one.py::test_xfail_not_run": "xfailed",
            "test_one.py::test_param[a]": "passed",
            "test_one.py::test_param[b]": "failed",
            "test_one.py::TestGroup::test_method": "passed",
        },
    }


def test_setup_and_teardown_errors(pytester, outcomes_file):
    pytester.makepyfile(
        test_errors="""
        import pytest

        @pytest.fixture
        def bad_setup():
            raise RuntimeError("setup")

        @pytest.fixture
        def bad_teardown():
            yield
            raise RuntimeError("teardown")

        @pytest.fixture
        def skip_in_fixture():
            pytest.skip("from a fixture")

        def test_setup_error(bad_setup):
            pass

        def test_pass_then_teardown_error(bad_teardown):
            pass

        def test_fail_then_teardown_error(bad_teardown):
            assert False

        def test_missing(no_such_fixture):
            pass

        def test_skipped_by_fixture(skip_in_fixture):
            pass
        """
    )
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 1
    assert _read(outcomes_file)["outcomes"] == {
        "test_errors.py::test_setup_error": "error",
        "test_errors.py::test_pass_then_teardown_error": "passed+error",
        "test_errors.py::test_fail_then_teardown_error": "failed+error",
        "test_errors.py::test_missing": "error",
        "test_errors.py::test_skipped_by_fixture": "skipped",
    }


def test_collection_errors_and_module_skip(pytester, outcomes_file):
    pytester.makepyfile(
        test_broken="def test_x(:\n    pass\n",
        test_noimport="import kiln_no_such_module_for_tests\n",
        test_modskip="import pytest\npytest.skip('whole module', allow_module_level=True)\n",
        test_fine="def test_fine():\n    pass\n",
    )
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 2
    assert _outcomes_part(outcomes_file) == {
        "exit_code": 2,
        "outcomes": {
            "test_broken.py": "collect-error",
            "test_noimport.py": "collect-error",
            "test_modskip.py": "skipped",
        },
    }

    result = pytester.runpytest("-p", PLUGIN, "--continue-on-collection-errors")
    assert result.ret == 1
    outcomes = _read(outcomes_file)["outcomes"]
    assert outcomes["test_fine.py::test_fine"] == "passed"
    assert outcomes["test_broken.py"] == "collect-error"


def test_unittest_outcomes(pytester, outcomes_file):
    pytester.makepyfile(
        test_ut="""
        import unittest

        class T(unittest.TestCase):
            def test_ok(self):
                pass

            def test_fail(self):
                self.assertEqual(1, 2)

            @unittest.skip("no")
            def test_skip(self):
                pass

            @unittest.expectedFailure
            def test_expected_failure(self):
                self.assertEqual(1, 2)
        """
    )
    pytester.runpytest("-p", PLUGIN)
    assert _read(outcomes_file)["outcomes"] == {
        "test_ut.py::T::test_ok": "passed",
        "test_ut.py::T::test_fail": "failed",
        "test_ut.py::T::test_skip": "skipped",
        "test_ut.py::T::test_expected_failure": "xfailed",
    }


def test_exit_codes(pytester, outcomes_file):
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    assert pytester.runpytest("-p", PLUGIN).ret == 0
    assert _outcomes_part(outcomes_file) == {"exit_code": 0, "outcomes": {"test_a.py::test_a": "passed"}}

    assert pytester.runpytest("-p", PLUGIN, "-k", "nothing_matches").ret == 5
    assert _outcomes_part(outcomes_file) == {"exit_code": 5, "outcomes": {}}


def test_exitfirst_records_only_what_ran(pytester, outcomes_file):
    pytester.makepyfile(
        test_x="""
        def test_1():
            pass

        def test_2():
            assert False

        def test_3():
            pass
        """
    )
    pytester.runpytest("-p", PLUGIN, "-x")
    assert _read(outcomes_file)["outcomes"] == {
        "test_x.py::test_1": "passed",
        "test_x.py::test_2": "failed",
    }


def test_does_nothing_without_env_var(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv(outcome_recorder.ENV_VAR, raising=False)
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 0
    assert not any(p.suffix == ".json" for p in pytester.path.rglob("*"))
    assert not any(p.suffix == ".json" for p in tmp_path.rglob("*"))


def test_xdist_crash_is_failed_with_plain_nodeids(pytester, outcomes_file, monkeypatch):
    pytest.importorskip("xdist")
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", PYTHON_DIR + (os.pathsep + existing if existing else ""))
    pytester.makepyfile(
        test_crash="""
        import os

        def test_before():
            pass

        def test_exit():
            os._exit(3)

        def test_after():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", PLUGIN, "-p", "xdist", "-n", "1")
    assert result.ret == 1
    assert _outcomes_part(outcomes_file) == {
        "exit_code": 1,
        "outcomes": {
            "test_crash.py::test_before": "passed",
            "test_crash.py::test_exit": "failed",
            "test_crash.py::test_after": "passed",
        },
    }


def test_report_mapping_for_crash_report():
    """A failed report whose `when` is "???" (xdist crash) counts as failed."""

    class Report:
        nodeid = "test_m.py::test_crash"
        when = "???"
        longreprtext = "worker crashed"
        passed = False
        skipped = False
        failed = True

    recorder = outcome_recorder.OutcomeRecorder("unused")
    recorder.pytest_runtest_logreport(Report())
    assert recorder.outcomes == {"test_m.py::test_crash": "failed"}
    assert recorder.failures == {"test_m.py::test_crash": {"???": "worker crashed"}}



def _section(stdout_lines, title):
    """The body of one `____ title ____` block of pytest's terminal output."""
    text = "\n".join(stdout_lines)
    start = text.index(f" {title} _")
    body = text[text.index("\n", start) + 1 :]
    end = min(
        (i for i in (body.find("\n_"), body.find("\n=")) if i >= 0),
        default=len(body),
    )
    # TestReport.longreprtext is the rendered longrepr, .strip()ped.
    return body[:end].strip()


def test_failure_text_is_what_pytest_prints_per_phase(pytester, outcomes_file):
    pytester.makepyfile(
        test_texts="""
        import pytest

        @pytest.fixture
        def bad_teardown():
            yield
            raise RuntimeError("in teardown")

        def test_diff():
            assert [1, 2, 3] == [1, 2, 4]

        def test_fail_then_teardown(bad_teardown):
            assert 0, "in call"

        def test_ok():
            pass
        """
    )
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 1
    data = _read(outcomes_file)
    failures = data["failures"]
    assert set(failures) == {"test_texts.py::test_diff", "test_texts.py::test_fail_then_teardown"}
    assert set(failures["test_texts.py::test_fail_then_teardown"]) == {"call", "teardown"}
    diff = failures["test_texts.py::test_diff"]["call"]
    assert "E       assert [1, 2, 3] == [1, 2, 4]" in diff
    # Byte for byte what the FAILURES section shows for the test.
    assert diff == _section(result.outlines, "test_diff")
    assert "RuntimeError: in teardown" in failures["test_texts.py::test_fail_then_teardown"]["teardown"]
    assert data["collect_errors"] == {}


def test_collection_error_text(pytester, outcomes_file):
    pytester.makepyfile(test_noimport="import kiln_no_such_module_for_tests\n")
    result = pytester.runpytest("-p", PLUGIN)
    assert result.ret == 2
    text = _read(outcomes_file)["collect_errors"]["test_noimport.py"]
    assert "ModuleNotFoundError: No module named 'kiln_no_such_module_for_tests'" in text
    assert text == _section(result.outlines, "ERROR collecting test_noimport.py")


def test_warnings_summary_locations_and_messages(pytester, outcomes_file, monkeypatch):
    # In a subprocess: an in-process run would also record pytest's warning
    # that the already imported plugin module cannot be rewritten.
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", PYTHON_DIR + (os.pathsep + existing if existing else ""))
    pytester.makepyfile(
        test_warns="""
        import warnings

        warnings.warn("at import", UserWarning)

        def test_one():
            warnings.warn("in a test", DeprecationWarning)

        def test_two():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", PLUGIN, "-p", "no:cacheprovider")
    assert result.ret == 0
    warnings_ = _read(outcomes_file)["warnings"]
    assert [w["location"] for w in warnings_] == ["test_warns.py:3", "test_warns.py::test_one"]
    where = pytester.path / "test_warns.py"
    assert warnings_[0]["message"].startswith(f"{where}:3: UserWarning: at import")
    assert "DeprecationWarning: in a test" in warnings_[1]["message"]
    # The summary prints each location, then the message indented.
    for w in warnings_:
        result.stdout.fnmatch_lines([w["location"], "  " + w["message"].splitlines()[0]])


def test_initial_conftest_import_error_is_recorded(pytester, outcomes_file, monkeypatch):
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", PYTHON_DIR + (os.pathsep + existing if existing else ""))
    pytester.makeconftest("import kiln_no_such_module_for_tests\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", PLUGIN)
    assert result.ret == 4
    data = _read(outcomes_file)
    assert data["exit_code"] == 4
    assert data["outcomes"] == {}
    # Exactly the lines pytest printed to stderr for it.
    assert data["conftest_error"].splitlines() == [
        line for line in result.errlines if line.strip()
    ]
    assert data["conftest_error"].startswith("ImportError while loading conftest ")
