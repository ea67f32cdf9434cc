"""A worker's report body is untrusted (tests/security/): the zygote reads
only real reports, and never through a link planted in the scratch dir."""

import json
import marshal
import os

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


def test_a_spill_file_is_read_and_removed(tmp_path):
    spilled = tmp_path / "body-1-1.bin"
    spilled.write_text(json.dumps([REPORT]))
    assert serialized_reports({"format": "json", "bodyFile": str(spilled)}, b"") == [REPORT]
    assert not spilled.exists()


def test_a_link_in_place_of_a_spill_file_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps([REPORT]))
    link = tmp_path / "body-1-1.bin"
    os.symlink(target, link)
    with pytest.raises(UnreadableReport, match="ELOOP|Too many levels"):
        serialized_reports({"format": "json", "bodyFile": str(link)}, b"")
    assert target.exists()
