"""Installed plugins whose flags overlap Kiln's own: pytest-xdist and pytest-timeout.

**`-n` is Kiln's.** Kiln's CLI takes `-n`/`--dist` before pytest sees its
arguments, but pytest-xdist (autoloaded, or `-p xdist`) still reads `-n`,
`--dist`, `-d`/`--tx` from `addopts` (`addopts = -n auto` is common). Left
alone, xdist's `pytest_cmdline_main` turns them into gateways, its
`pytest_configure` registers a DSession in the zygote, and that session starts
execnet processes and, with Kiln's run loop in place, runs nothing. So the
zygote clears them before xdist reads them (a hook wrapper runs before every
plain or tryfirst implementation of the same hook), and says so in the header.
xdist's fixtures (`worker_id` is "master", `testrun_uid`) stay what plain
pytest without `-n` gives.

**`--timeout` is pytest-timeout's when pytest-timeout is active.** `kiln test
--timeout N` then means exactly `pytest --timeout N`: the value goes into
pytest-timeout's own option before its `pytest_configure` reads it, so its
precedence (`@pytest.mark.timeout` over `--timeout` over `PYTEST_TIMEOUT`
over the `timeout` ini option), its methods and its failure text are
pytest's. Kiln's watchdog stays armed as a backstop at each test's
effective pytest-timeout plus a grace, for what pytest-timeout cannot
interrupt (a test stuck in C code under the signal method). Without pytest-timeout, `--timeout` is Kiln's watchdog alone.
"""

import pytest

# Kiln's backstop fires this long after pytest-timeout should have.
BACKSTOP_GRACE_SECONDS = 5.0

# The xdist options that make it distribute, and the values that mean "don't".
_XDIST_OFF = {"numprocesses": None, "distload": False, "dist": "no", "tx": []}


def _xdist_requests(namespace):
    """The distribution pytest-xdist was asked for, as pytest would show it; '' if none."""
    asked = []
    numprocesses = getattr(namespace, "numprocesses", None)
    if numprocesses:
        asked.append(f"-n {numprocesses}")
    if getattr(namespace, "distload", False):
        asked.append("--dist load")
    dist = getattr(namespace, "dist", "no")
    if dist not in (None, "no"):
        asked.append(f"--dist {dist}")
    if getattr(namespace, "tx", None):
        asked.append("--tx")
    return ", ".join(asked)


def _clear_xdist(namespace):
    for name, value in _XDIST_OFF.items():
        if hasattr(namespace, name):
            setattr(namespace, name, list(value) if isinstance(value, list) else value)


def _timeout_plugin(config):
    """pytest-timeout's module when it is registered (not `-p no:timeout`)."""
    plugin = config.pluginmanager.get_plugin("timeout")
    if plugin is None or not hasattr(plugin, "_get_item_settings"):
        return None
    return plugin


class KilnPluginCompat:
    def __init__(self, kiln_timeout):
        self.kiln_timeout = kiln_timeout
        self.xdist_ignored = ""
        self.timeout_plugin = None

    def _ignore_xdist(self, namespace):
        asked = _xdist_requests(namespace)
        if asked:
            self.xdist_ignored = asked
            _clear_xdist(namespace)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_load_initial_conftests(self, early_config):
        # pytest-cov picks its controller here from the same namespace
        # (`is_dist`); with -n cleared it measures like serial pytest.
        self._ignore_xdist(early_config.known_args_namespace)
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_cmdline_main(self, config):
        self._ignore_xdist(config.option)
        yield

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        plugin = _timeout_plugin(config)
        if plugin is not None and self.kiln_timeout:
            # As `pytest --timeout N`: pytest-timeout's pytest_configure reads
            # config.getvalue("timeout") next (get_env_settings).
            config.option.timeout = float(self.kiln_timeout)
            self.timeout_plugin = plugin

    def pytest_report_header(self, config):
        lines = []
        if self.xdist_ignored:
            lines.append(
                f"kiln: pytest-xdist's {self.xdist_ignored} ignored: Kiln's -n sets the workers"
            )
        if self.timeout_plugin is not None:
            lines.append(
                f"kiln: --timeout {self.kiln_timeout:g}s is applied by pytest-timeout; "
                f"Kiln's watchdog backs it up {BACKSTOP_GRACE_SECONDS:g}s later"
            )
        return lines


def _find(config):
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, KilnPluginCompat):
            return plugin
    return None


def timeout_owner(config):
    """'pytest-timeout' when Kiln's --timeout was handed to pytest-timeout, else 'kiln'."""
    compat = _find(config)
    if compat is not None and compat.timeout_plugin is not None:
        return "pytest-timeout"
    return "kiln"


def watchdog_for(config, kiln_timeout):
    """item -> how long Kiln's watchdog lets it run (None: not armed)."""
    compat = _find(config)
    plugin = compat.timeout_plugin if compat is not None else None
    if not kiln_timeout or plugin is None:
        return lambda item: kiln_timeout or None

    def backstop(item):
        # pytest-timeout's own value for this item (marker over --timeout over ini).
        settings = plugin._get_item_settings(item)
        if not settings.timeout or settings.timeout <= 0:
            return None  # @pytest.mark.timeout(0): pytest-timeout disabled it
        if getattr(settings, "func_only", False):
            # pytest-timeout times the call alone (timeout_func_only): setup
            # may take any time, so a limit on the whole protocol could fire
            # where pytest-timeout would not.
            return None
        return float(settings.timeout) + BACKSTOP_GRACE_SECONDS

    return backstop
