"""Record every test's outcome to a JSON file, for parity checks against pytest.

Load with ``-p kiln_harness.outcome_recorder``. When the environment variable
``KILN_OUTCOMES_FILE`` is set (at configure time), the plugin writes, at
``pytest_sessionfinish``::

    {"exit_code": <int>, "outcomes": {"<nodeid>": "<outcome>", ...}}

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

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid] = "collect-error"
        elif report.skipped:
            self.outcomes[report.nodeid] = "skipped"

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        when = report.when
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

    def pytest_sessionfinish(self, session, exitstatus):
        data = {"exit_code": int(exitstatus), "outcomes": self.outcomes}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.path)
