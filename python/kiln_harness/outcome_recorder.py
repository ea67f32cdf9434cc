"""Record every test's outcome to a JSON file, for parity checks against pytest.

Load with ``-p kiln_harness.outcome_recorder``. When the environment variable
``KILN_OUTCOMES_FILE`` is set (at configure time), the plugin writes, at
``pytest_sessionfinish``::

    {"exit_code": <int>, "outcomes": {"<nodeid>": "<outcome>", ...},
     "failures": {"<nodeid>": {"<phase>": "<longreprtext>", ...}, ...},
     "collect_errors": {"<nodeid>": "<longreprtext>", ...},
     "warnings": [{"location": "<nodeid or path:lineno>", "message": "..."}, ...],
     "conftest_error": "<text>"}

``failures`` holds the text pytest prints under FAILURES / ERRORS for each
failed phase (``setup``, ``call``, ``teardown``; xdist's ``???`` for a crash),
``collect_errors`` the same for failed collectors, and ``warnings`` what the
warnings summary lists: each warning's location (the node id, or
``path:lineno`` for one raised outside a test) and its message as
``warning_record_to_str`` formats it, in the order recorded; ``null`` when
there is no terminal reporter to summarize them. ``conftest_error`` is there
only when an initial conftest failed to import: pytest then stops before the
session (exit 4) and prints that text to stderr.

Outcomes, derived from the reports the terminal reporter sees as well:

- ``passed``, ``failed``, ``skipped``, ``xfailed``, ``xpassed``;
- ``error``: setup (or, with no earlier report, teardown) failed;
- ``<outcome>+error``: the test got an outcome, then its teardown failed
  (``passed+error``, ``failed+error``, ...);
- ``collect-error``: a collector (module, class, ...) failed to collect;
- a collector that was skipped (``pytest.skip(allow_module_level=True)``,
  ``pytest.importorskip``) is recorded as ``skipped`` under its nodeid.

A failed report whose ``when`` is neither setup nor teardown counts as
``failed``: that covers the call phase and the ``"???"`` report xdist sends
for a test whose worker crashed.

It does nothing when the variable is unset, and nothing in an xdist worker
(the controller receives the workers' reports and writes the file). Pure
standard library plus pytest's hooks; works on pytest 7.x and later.
"""

import json
import os

import pytest

ENV_VAR = "KILN_OUTCOMES_FILE"
_PLUGIN_NAME = "kiln-outcome-recorder"


def _is_xdist_worker(config):
    return hasattr(config, "workerinput")


def pytest_configure(config):
    path = os.environ.get(ENV_VAR)
    if not path or _is_xdist_worker(config):
        return
    if config.pluginmanager.get_plugin(_PLUGIN_NAME) is None:
        config.pluginmanager.register(OutcomeRecorder(path), _PLUGIN_NAME)


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config):
    """An initial conftest that fails to import ends the run before
    pytest_configure: record the text _pytest.config.main prints for it
    (a ConftestImportFailure, shown with style="short", chain=False)."""
    outcome = yield
    path = os.environ.get(ENV_VAR)
    excinfo = outcome.excinfo
    if not path or excinfo is None or _is_xdist_worker(early_config):
        return
    from _pytest.config import ConftestImportFailure

    exc = excinfo[1]
    if not isinstance(exc, ConftestImportFailure):
        return
    _write(path, {"exit_code": 4, "outcomes": {}, "conftest_error": _conftest_error_text(exc)})


def _conftest_error_text(exc):
    """The lines _pytest.config.main writes for a ConftestImportFailure
    (print_conftest_import_error in pytest 9), without the colour."""
    from _pytest._code import ExceptionInfo
    from _pytest.config import filter_traceback_for_conftest_import_failure

    # pytest 7.x keeps the cause as exc.excinfo (a sys.exc_info() triple);
    # pytest 8+ raises ConftestImportFailure `from` the cause.
    cause = getattr(exc, "excinfo", None)
    if cause is not None:
        exc_info = ExceptionInfo.from_exc_info(cause)
    else:
        exc_info = ExceptionInfo.from_exception(exc.cause)
    exc_info.traceback = exc_info.traceback.filter(filter_traceback_for_conftest_import_failure)
    if exc_info.traceback:
        formatted = str(exc_info.getrepr(style="short", chain=False))
    else:
        formatted = exc_info.exconly()
    lines = [f"ImportError while loading conftest '{exc.path}'."]
    lines.extend(line.rstrip() for line in formatted.splitlines())
    return "\n".join(lines)


def _write(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _test_outcome(report):
    """The outcome one test report stands for, ignoring its phase."""
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "xfailed"
        if report.passed:
            return "xpassed"
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    return "failed"


class OutcomeRecorder:
    def __init__(self, path):
        self.path = path
        self.outcomes = {}
        self.failures = {}
        self.collect_errors = {}
        self.config = None

    def pytest_configure(self, config):
        self.config = config

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid] = "collect-error"
            self.collect_errors[report.nodeid] = report.longreprtext
        elif report.skipped:
            self.outcomes[report.nodeid] = "skipped"

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        when = report.when
        if report.failed:
            self.failures.setdefault(nodeid, {})[when] = report.longreprtext
        previous = self.outcomes.get(nodeid)
        if when == "setup":
            if report.failed:
                self.outcomes[nodeid] = "error"
            elif report.skipped:
                self.outcomes[nodeid] = _test_outcome(report)
            # A passed setup says nothing yet: the call report decides.
        elif when == "teardown":
            if report.failed:
                if previous is None or previous == "error" or previous.endswith("+error"):
                    self.outcomes[nodeid] = previous or "error"
                else:
                    self.outcomes[nodeid] = previous + "+error"
            elif previous is None and report.skipped:
                self.outcomes[nodeid] = _test_outcome(report)
        else:
            # "call", or "???" for a test whose xdist worker crashed.
            self.outcomes[nodeid] = _test_outcome(report)

    def _warnings(self, config):
        """What TerminalReporter.summary_warnings lists: its stats["warnings"]
        (WarningReport objects) with the location it prints for each."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return None
        return [
            {"location": str(w.get_location(config) or ""), "message": w.message}
            for w in reporter.stats.get("warnings", [])
        ]

    def pytest_sessionfinish(self, session, exitstatus):
        _write(
            self.path,
            {
                "exit_code": int(exitstatus),
                "outcomes": self.outcomes,
                "failures": self.failures,
                "collect_errors": self.collect_errors,
                "warnings": self._warnings(session.config),
            },
        )
