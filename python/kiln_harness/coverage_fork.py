"""pytest-cov in forked workers: each worker saves a parallel data file.

pytest-cov starts coverage in the zygote (its `Central` controller, from
`pytest_load_initial_conftests`, so imports and collection are measured as in
serial pytest). A worker is a fork of that process: the tracer keeps running
in it, but a worker ends with `os._exit`, so coverage's atexit save never runs
and everything the tests executed would be lost.

This does for a forked worker what pytest-cov's `DistWorker` does for an xdist
worker that shares the master's host and directory ("collocated"):

- at start, keep measuring with the inherited `Coverage` (a fork is already
  "started"; it is the same object `cov_controller.cov` that the `cov`
  fixture, `no_cover` and `--cov-context=test` use in the worker), and, as
  DistWorker does, don't warn about source modules this worker never imported;
- at the end, `stop()` and `save()` without combining: coverage's data file is
  chosen anew in a forked process (`CoverageData._start_using` sees the pid
  change and picks a fresh `.coverage.<host>.<pid>.<random>` suffix, the
  `data_suffix=True` that pytest-cov gives every controller), and the worker
  writes only that file. DistWorker doesn't combine either ("we can get race
  conditions in the .combine() call").

The zygote needs nothing more: pytest-cov's own `pytest_runtestloop` wrapper
calls `cov_controller.finish()` after Kiln's run loop returns, which is after
every worker has exited (the supervisor sends `run:finish` only once each
worker's exit was reaped), and `finish()` combines every parallel data file
in the data file's directory into one before the report, as `DistMaster`
does for xdist.

A worker that dies (a crash, Kiln's own watchdog) never saves: what it
measured is lost, as with an xdist worker that dies (pytest-cov lists it
under "failed workers"). Saving after every module instead was measured and
rejected: each `save()` also walks the source tree for unexecuted files
(`Coverage._post_save_work`), about 7 ms per save for 100 source files.
"""

import contextlib
import os


def _measuring_controller(config):
    """pytest-cov's controller when it is measuring in this process, else None."""
    plugin = config.pluginmanager.get_plugin("_cov")
    if plugin is None or getattr(plugin, "_disabled", False):
        return None
    controller = getattr(plugin, "cov_controller", None)
    if controller is None or getattr(controller, "cov", None) is None:
        return None
    if not getattr(controller, "started", False):
        return None
    return controller


def measuring(config):
    """Whether pytest-cov measures this run (its controller has started)."""
    return _measuring_controller(config) is not None


@contextlib.contextmanager
def _in_topdir(controller):
    # pytest-cov runs start/finish from the directory it started in
    # (engine._ensure_topdir): the data file name may be relative to it, and a
    # test may have left the worker elsewhere.
    try:
        before = os.getcwd()
    except OSError:
        before = None
    os.chdir(controller.topdir)
    try:
        yield
    finally:
        if before is not None:
            os.chdir(before)


@contextlib.contextmanager
def measure_worker(config):
    """Wrap a forked worker's whole life (see the module docstring)."""
    controller = _measuring_controller(config)
    if controller is None:
        yield
        return
    # As DistWorker.start: a worker need not import every source package.
    controller.cov._warn_unimported_source = False
    try:
        yield
    finally:
        cov = controller.cov
        with _in_topdir(controller):
            # `started` is False while a `no_cover` test pauses it; a worker
            # only ends between tests, but stop() is harmless either way.
            cov.stop()
            controller.started = False
            cov.save()
