"""A worker's report body is untrusted (tests/security/): what the zygote
cannot read fails that test, never the zygote's session."""

import marshal

import pytest

from kiln_harness.replay import UnreadableReport, serialized_reports

REPORT = {"$report_type": "TestReport", "nodeid": "t.py::t", "sections": []}


def test_a_real_body_is_read():
    body = marshal.dumps([REPORT])
    assert serialized_reports({"format": "marshal"}, body) == [REPORT]


@pytest.mark.parametrize(
    "fmt,body",
    [("marshal", b"\xff garbage"), ("json", b"{not json"), ("json", b'"a string"'), ("json", b"[1, 2]")],
    ids=["bad-marshal", "bad-json", "not-a-list", "not-dicts"],
)
def test_garbage_is_unreadable_not_a_crash(fmt, body):
    with pytest.raises(UnreadableReport):
        serialized_reports({"format": fmt}, body)


def test_a_refused_spill_file_is_unreadable_not_a_crash(tmp_path):
    # read_spilled_body's refusals (test_replay_spill.py) reach the zygote as
    # UnreadableReport: the test fails, the session goes on.
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(UnreadableReport, match="refused a report body file"):
        serialized_reports({"format": "json", "bodyFile": str(outside)}, b"", str(scratch))
    assert outside.read_text() == "not yours"
