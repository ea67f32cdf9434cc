"""The worker's plugins, registered once in the zygote before the first fork
(worker.WorkerPlugins): dormant there, since the zygote replays every test
through the same hooks, and reporting on a worker's channel once activated."""

import socket
import types
import warnings

from kiln_harness.protocol import Channel
from kiln_harness.worker import WorkerPlugins, _Inbox


def _warning():
    return warnings.WarningMessage(UserWarning("w"), UserWarning, "test_x.py", 3)


def _report(when):
    return types.SimpleNamespace(when=when, passed=False, failed=True)


def test_dormant_in_the_zygote_they_do_nothing(tmp_path):
    # config=None: a dormant hook that reached for the config would raise.
    plugins = WorkerPlugins(None, str(tmp_path))
    plugins.sender.pytest_runtest_logreport(_report("call"))
    plugins.sender.pytest_runtest_logfinish("test_x.py::test_a", ("test_x.py", 0, "test_a"))
    plugins.sender.pytest_warning_recorded(_warning(), "runtest", "test_x.py::test_a", None)
    plugins.stop_watch.pytest_runtest_logreport(_report("call"))
    plugins.debugging.pytest_enter_pdb(None, None)
    assert plugins.sender.reports == [] and plugins.sender.finished_nodeid is None


def test_activated_in_a_worker_they_use_its_channel(tmp_path):
    plugins = WorkerPlugins(None, str(tmp_path))
    ours, theirs = socket.socketpair()
    chan = Channel(ours.fileno())
    plugins.activate(chan, _Inbox(chan), session=None)
    plugins.sender.pytest_warning_recorded(_warning(), "runtest", "test_x.py::test_a", None)
    chan.flush()
    peer = Channel(theirs.fileno())
    header, _ = peer.recv()
    assert header["type"] == "warning:recorded"
    assert header["nodeid"] == "test_x.py::test_a"
    ours.close()
    theirs.close()
