"""ordering_hints and settle_stepwise against real pytest runs (pytester)."""

import pytest

from kiln_harness.cache_order import _StepwiseState, ordering_hints, settle_stepwise

pytest_plugins = ["pytester"]


class _Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


def _items(*nodeids):
    return [_Item(n) for n in nodeids]


def _config(pytester, *args):
    return pytester.parseconfigure(*args)


@pytest.fixture
def project(pytester):
    pytester.makepyfile(
        test_a="def test_pass(): pass\ndef test_fail(): assert 0\n",
        test_b="def test_pass(): pass\n",
    )
    # A previous run: test_a.py::test_fail failed, every node id was seen.
    pytester.runpytest()
    return pytester


def test_failedfirst_counts_the_leading_previous_failures(project):
    config = _config(project, "--ff")
    items = _items("test_a.py::test_fail", "test_a.py::test_pass", "test_b.py::test_pass")
    assert ordering_hints(config, items) == {"first": 1, "keep": False, "by": "failedfirst"}


def test_last_failed_selects_without_a_deliberate_order(project):
    config = _config(project, "--lf")
    assert ordering_hints(config, _items("test_a.py::test_fail")) == {
        "first": 0,
        "keep": False,
        "by": None,
    }


def test_newfirst_counts_the_leading_new_tests_and_keeps_the_rest(project):
    config = _config(project, "--nf")
    items = _items("test_c.py::test_new", "test_a.py::test_pass", "test_b.py::test_pass")
    assert ordering_hints(config, items) == {"first": 1, "keep": True, "by": "newfirst"}


def test_stepwise_keeps_collection_order(project):
    config = _config(project, "--sw")
    assert ordering_hints(config, _items("test_a.py::test_pass")) == {
        "first": 0,
        "keep": True,
        "by": "stepwise",
    }


def test_no_cacheprovider_means_no_hint(project):
    config = _config(project, "-p", "no:cacheprovider")
    assert ordering_hints(config, _items("test_a.py::test_pass"))["by"] is None


def _stepwise_config(pytester, *args):
    pytester.makepyfile(test_s="def test_x(): pass\n")
    return _config(pytester, "--sw", *args)


def test_settle_moves_last_failed_to_the_earliest_failed_or_unrun_item(pytester):
    config = _stepwise_config(pytester)
    state = _StepwiseState(config.pluginmanager.get_plugin("stepwiseplugin"))
    # Workers reported t4 failing last; t2 failed too; t3 never ran.
    state.set("m.py::t4")
    items = _items("m.py::t1", "m.py::t2", "m.py::t3", "m.py::t4", "m.py::t5")
    reported = {"m.py::t1", "m.py::t2", "m.py::t4", "m.py::t5"}
    assert settle_stepwise(config, items, reported, {"m.py::t2", "m.py::t4"}, None) == "m.py::t2"
    assert state.get() == "m.py::t2"


def test_settle_counts_a_queued_item_before_the_failure(pytester):
    config = _stepwise_config(pytester)
    state = _StepwiseState(config.pluginmanager.get_plugin("stepwiseplugin"))
    state.set("m.py::t3")
    items = _items("m.py::t1", "m.py::t2", "m.py::t3")
    assert settle_stepwise(config, items, {"m.py::t1", "m.py::t3"}, {"m.py::t3"}, None) == "m.py::t2"


def test_settle_passes_over_the_failure_sw_skip_let_through(pytester):
    config = _stepwise_config(pytester, "--sw-skip")
    state = _StepwiseState(config.pluginmanager.get_plugin("stepwiseplugin"))
    state.set("m.py::t3")
    items = _items("m.py::t1", "m.py::t2", "m.py::t3")
    reported = {"m.py::t1", "m.py::t2", "m.py::t3"}
    failed = {"m.py::t1", "m.py::t3"}
    assert settle_stepwise(config, items, reported, failed, "m.py::t1") is None
    assert state.get() == "m.py::t3"


def test_settle_leaves_a_run_without_a_stop_alone(pytester):
    config = _stepwise_config(pytester)
    state = _StepwiseState(config.pluginmanager.get_plugin("stepwiseplugin"))
    state.set(None)
    items = _items("m.py::t1", "m.py::t2")
    assert settle_stepwise(config, items, {"m.py::t1"}, set(), None) is None
    assert state.get() is None


class _Options:
    def __init__(self, sw_skip):
        self.sw_skip = sw_skip

    def getoption(self, name):
        assert name == "stepwise_skip"
        return self.sw_skip


def test_sw_skip_lets_the_first_failed_report_through():
    from kiln_harness.cache_order import skipped_failure

    assert skipped_failure(_Options(True), ["m.py::t1", "m.py::t3"]) == "m.py::t1"
    # Failed twice (setup, then teardown): the second report stops, as in
    # StepwisePlugin, so nothing was let through.
    assert skipped_failure(_Options(True), ["m.py::t1", "m.py::t1"]) is None
    assert skipped_failure(_Options(False), ["m.py::t1"]) is None
    assert skipped_failure(_Options(True), []) is None
