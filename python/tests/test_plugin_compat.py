"""plugin_compat: Kiln's -n over pytest-xdist's, --timeout handed to pytest-timeout."""

import argparse
import types

from kiln_harness import coverage_fork
from kiln_harness.plugin_compat import (
    BACKSTOP_GRACE_SECONDS,
    KilnPluginCompat,
    _clear_xdist,
    _xdist_requests,
    watchdog_for,
)


def test_xdist_requests_names_what_addopts_asked_for():
    ns = argparse.Namespace(numprocesses=4, distload=False, dist="loadfile", tx=["popen"] * 4)
    assert _xdist_requests(ns) == "-n 4, --dist loadfile, --tx"
    _clear_xdist(ns)
    assert (ns.numprocesses, ns.distload, ns.dist, ns.tx) == (None, False, "no", [])
    assert _xdist_requests(ns) == ""


def test_xdist_not_installed_leaves_the_namespace_alone():
    ns = argparse.Namespace(verbose=1)
    assert _xdist_requests(ns) == ""
    _clear_xdist(ns)
    assert vars(ns) == {"verbose": 1}


class _PluginManager:
    def __init__(self, *plugins):
        self.plugins = list(plugins)

    def get_plugins(self):
        return self.plugins

    def get_plugin(self, name):
        return None


def _config(*plugins):
    return types.SimpleNamespace(pluginmanager=_PluginManager(*plugins))


class _FakeTimeoutPlugin:
    """pytest-timeout's _get_item_settings: the marker's value, else --timeout's."""

    def __init__(self, cli):
        self.cli = cli

    def _get_item_settings(self, item):
        timeout = item.marker if item.marker is not None else self.cli
        return types.SimpleNamespace(timeout=timeout, func_only=getattr(item, "func_only", False))


def test_watchdog_is_kilns_timeout_without_pytest_timeout():
    config = _config(KilnPluginCompat(2.0))
    assert watchdog_for(config, 2.0)(object()) == 2.0
    assert watchdog_for(config, None)(object()) is None


def test_watchdog_backs_up_pytest_timeouts_own_value_per_item():
    compat = KilnPluginCompat(1.0)
    compat.timeout_plugin = _FakeTimeoutPlugin(cli=1.0)
    watchdog = watchdog_for(_config(compat), 1.0)
    item = types.SimpleNamespace
    assert watchdog(item(marker=None)) == 1.0 + BACKSTOP_GRACE_SECONDS
    # @pytest.mark.timeout(4) wins over --timeout 1, so must the backstop.
    assert watchdog(item(marker=4)) == 4.0 + BACKSTOP_GRACE_SECONDS
    # @pytest.mark.timeout(0) disables pytest-timeout for the test: no backstop.
    assert watchdog(item(marker=0)) is None
    # timeout_func_only: pytest-timeout leaves setup unbounded, so does Kiln.
    assert watchdog(item(marker=None, func_only=True)) is None


class _Cov:
    def __init__(self, log):
        self.log = log
        self._warn_unimported_source = True

    def stop(self):
        self.log.append("stop")

    def save(self):
        import os

        self.log.append(("save", os.getcwd()))


def test_measure_worker_saves_from_pytest_covs_topdir(tmp_path, monkeypatch):
    log = []
    controller = types.SimpleNamespace(cov=_Cov(log), started=True, topdir=str(tmp_path))
    plugin = types.SimpleNamespace(_disabled=False, cov_controller=controller)
    config = types.SimpleNamespace(
        pluginmanager=types.SimpleNamespace(get_plugin=lambda name: plugin if name == "_cov" else None)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with coverage_fork.measure_worker(config):
        # As DistWorker.start: no module-not-imported warnings from a worker.
        assert controller.cov._warn_unimported_source is False
        monkeypatch.chdir(elsewhere)  # a test left the worker in another directory
    assert log == ["stop", ("save", str(tmp_path))]
    assert controller.started is False


def test_measure_worker_without_pytest_cov_does_nothing():
    config = types.SimpleNamespace(pluginmanager=types.SimpleNamespace(get_plugin=lambda name: None))
    with coverage_fork.measure_worker(config):
        pass
