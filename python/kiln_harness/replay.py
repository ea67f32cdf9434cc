"""The zygote's side of a worker's reports: the serialized reports of one
test as pytest made them, and the report of a test whose worker died.
"""

import json
import marshal
import os
import re
import stat


class WorkerNode:
    """Stands in for xdist's node on reports, so `-v` prints `[kw1] PASSED ...`

    pytest's TerminalReporter reads `report.node.gateway.id` when a report has
    a `node` attribute (the xdist convention), which keeps interleaved verbose
    lines readable.
    """

    class _Gateway:
        def __init__(self, ident):
            self.id = ident

    def __init__(self, worker_id):
        self.gateway = self._Gateway(f"kw{worker_id}")
        # BaseReport.toterminal prints this above every failure when set
        # (xdist's "[gw0] linux -- Python ..."); plain pytest prints nothing.
        self._workerinfocache = ""


def rebuild_sections(data, earlier):
    """Put back the sections a worker left out of a serialized report because
    the phase before already carried them (report_sender.sections_added), so the
    report is the one pytest made. Returns the report's whole sections."""
    kept = data.pop("kiln_sections_kept", None)
    if kept is None:
        return list(data.get("sections", ()))
    data["sections"] = list(earlier[:kept]) + list(data["sections"])
    return data["sections"]


# report_sender.ReportSender._spill's names.
_SPILL_NAME = re.compile(r"body-\d+-\d+\.bin")


def read_spilled_body(path, spill_dir):
    """A spilled body's bytes; the file is deleted. The path comes from a
    worker, which may run hostile code (--isolate strict): only a regular
    file directly in the run's scratch dir, named as a worker names its
    spills, is read and removed; a symlink is not followed. Otherwise the
    zygote, outside the sandbox, would read or delete any file a test names."""
    if (
        spill_dir is None
        or os.path.dirname(os.path.abspath(path)) != os.path.abspath(spill_dir)
        or not _SPILL_NAME.fullmatch(os.path.basename(path))
    ):
        raise ValueError("kiln: refused a report body file outside the run's scratch dir: %r" % path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("kiln: refused a report body file that is not a regular file: %r" % path)
        with os.fdopen(fd, "rb", closefd=False) as f:
            body = f.read()
    finally:
        os.close(fd)
    os.unlink(path)
    return body


class UnreadableReport(Exception):
    """A worker's report body is not what report_sender.py sends: user code
    in the worker wrote into its channel (tests/security/ forges such frames)."""


def serialized_reports(header, body, spill_dir=None):
    """One test's pytest_report_to_serializable dicts, whole again: read
    from the spill file when the body was too large for a frame
    (report_sender.SPILL_BODY_AT), with each report's sections rebuilt.

    The body comes from a worker, where the test's own code runs: a spill
    file read_spilled_body refuses, or anything but a list of report dicts,
    raises UnreadableReport (the test fails; the zygote goes on)."""
    try:
        body_file = header.get("bodyFile")
        if body_file is not None:
            body = read_spilled_body(body_file, spill_dir)
        datas = marshal.loads(body) if header.get("format") == "marshal" else json.loads(body)
        if not isinstance(datas, list) or not all(isinstance(d, dict) for d in datas):
            raise ValueError("not a list of serialized reports")
        earlier = []
        for data in datas:
            earlier = rebuild_sections(data, earlier)
        return datas
    except Exception as exc:  # untrusted bytes: any failure to read them is the worker's
        raise UnreadableReport(f"{type(exc).__name__}: {exc}") from None


def unreadable_message(header, problem):
    """What a test fails with when its worker's report could not be read."""
    return (
        f"Kiln stopped worker kw{header.get('workerId')} while it ran {header['nodeid']}: "
        f"something in the test wrote into the worker's channel to Kiln (a report that "
        f"could not be read: {problem}).\n"
        "Nothing that worker said afterwards could be trusted, so its output for this test "
        "is lost; the rest of its group continues in a fresh worker."
    )


def crash_report(item, header):
    """The failed report of a test whose worker died under it (`item` is
    None when the node id is not collected here). Like xdist's
    DSession.handle_crashitem, built in the zygote, since the worker could
    not send one."""
    from _pytest.reports import TestReport

    nodeid = header["nodeid"]
    if item is not None:
        location = item.location
        keywords = {k: 1 for k in item.keywords}
    else:
        fspath = nodeid.split("::")[0]
        location = (fspath, None, fspath)
        keywords = {}
    return TestReport(
        nodeid,
        location,
        keywords,
        "failed",
        header["message"],
        header.get("when", "call"),
        sections=[],
        duration=float(header.get("duration", 0.0)),
    )
