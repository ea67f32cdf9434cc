"""The supervisor's messages to the zygote during the run (part of
pytest_bridge.KilnZygotePlugin): worker reports fed into the zygote's own
pytest hooks in the order serial pytest calls them, crashes turned into
failed reports, and the run's control messages.
"""

import os
import signal

from .replay import (
    UnreadableReport,
    WorkerNode,
    crash_report,
    serialized_reports,
    unreadable_message,
)
from .warnings_codec import unserialize_warning


class ReportReplay:
    """Mixin of KilnZygotePlugin: the state it uses is set in its __init__."""

    def _handle(self, header, body):
        kind = header["type"]
        if kind == "worker:spawn":
            self._spawn(int(header["workerId"]), header.get("indices") or ())
        elif kind == "test:finished":
            self._replay_test(header, body)
        elif kind == "test:crashed":
            self._report_crash(header)
        elif kind == "warning:recorded":
            self.config.hook.pytest_warning_recorded.call_historic(
                kwargs=dict(
                    warning_message=unserialize_warning(header["warning"]),
                    when=header["when"],
                    nodeid=header["nodeid"],
                    location=tuple(header["location"]) if header.get("location") else None,
                )
            )
        elif kind == "run:exit":
            if self.exit_request is None:
                self.exit_request = (
                    header["reason"],
                    header.get("returncode"),
                    header.get("interrupt"),
                )
        elif kind == "run:finish":
            self.finished = True
        elif kind == "run:planned":
            self.workers = int(header["workers"])
            self._fit_output_to_workers()
            tr = self.config.pluginmanager.getplugin("terminalreporter")
            # Where xdist says "2 workers [186 items]": after collection, not
            # under -q (the header isn't shown then either).
            if tr is not None and self.config.option.verbose >= 0:
                tr.write_line(f"kiln: {header['note']}")
        else:
            raise RuntimeError(f"this is a bug in kiln: unknown message {kind!r} for the zygote")

    def _replay_test(self, header, body):
        """Feed one finished test's reports to the zygote's hooks, in the
        order serial pytest calls them (runner.pytest_runtest_protocol)."""
        hook = self.config.hook
        nodeid = header["nodeid"]
        location = tuple(header["location"])
        spill_dir = self.scratch_dir if self.sandbox is None else self.sandbox.spill_dirs()[1]
        try:
            datas = serialized_reports(header, body, spill_dir)
            reports = [
                hook.pytest_report_from_serializable(config=self.config, data=data)
                for data in datas
            ]
            if any(report is None for report in reports):
                raise UnreadableReport("not a pytest report")
        except Exception as exc:  # untrusted bytes from a worker (replay.UnreadableReport)
            self._refuse_worker(header, exc)
            return
        hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
        for report in reports:
            self._log_report(report, header.get("workerId"))
        if not header.get("unfinished"):
            hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)

    def _log_report(self, report, worker_id):
        if self.workers > 1 and worker_id is not None:
            report.node = self.nodes.setdefault(worker_id, WorkerNode(worker_id))
        self.config.hook.pytest_runtest_logreport(report=report)
        if self.stepwise_tracking:
            self.reported.add(report.nodeid)
            if report.failed:
                self.failed_reports.append(report.nodeid)
        session = self.session
        if (session.shouldfail or session.shouldstop) and not self.stop_sent:
            self.stop_sent = True
            self.chan.send(
                {"type": "run:stop-requested", "reason": str(session.shouldfail or session.shouldstop)}
            )

    def _refuse_worker(self, header, exc):
        """A worker sent a report that cannot be read: the test fails with
        the reason, and the worker is killed (it is this process's child), as
        the supervisor kills one that writes garbage into its channel."""
        worker_id = header.get("workerId")
        for pid, wid in self.children.items():
            if wid == worker_id:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        message = unreadable_message(header, exc)
        self._report_crash({**header, "when": "call", "message": message, "duration": 0.0})

    def _report_crash(self, header):
        """A worker died (signal, os._exit, timeout) while running an item:
        it fails with a report built here (replay.crash_report)."""
        if self.items_by_id is None:
            self.items_by_id = {item.nodeid: item for item in self.session.items}
        report = crash_report(self.items_by_id.get(header["nodeid"]), header)
        self.config.hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        self._log_report(report, header.get("workerId"))
        self.config.hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
