"""Each captured section crosses the wire once, and comes back whole."""

from kiln_harness.replay import rebuild_sections
from kiln_harness.report_sender import RECORD_TEXT_LIMIT, clip_for_record, sections_added

SETUP = ("Captured stdout setup", "s\n")
CALL = ("Captured stdout call", "c\n")
TEARDOWN = ("Captured stdout teardown", "t\n")


def test_a_phase_sends_only_what_it_added():
    assert sections_added([], [SETUP]) == (0, [SETUP])
    assert sections_added([SETUP], [SETUP, CALL]) == (1, [CALL])
    assert sections_added([SETUP, CALL], [SETUP, CALL, TEARDOWN]) == (2, [TEARDOWN])


def test_rewritten_sections_are_sent_whole():
    # A plugin replaced report.sections: the earlier ones are not a prefix.
    assert sections_added([SETUP], [CALL]) == (0, [CALL])
    assert sections_added([SETUP, CALL], [SETUP]) == (0, [SETUP])


def test_the_zygote_rebuilds_what_pytest_made():
    phases = [[SETUP], [SETUP, CALL], [SETUP, CALL, TEARDOWN]]
    sent, earlier = [], []
    for current in phases:
        kept, added = sections_added(earlier, current)
        earlier = current
        sent.append({"sections": added, "kiln_sections_kept": kept})
    rebuilt, whole = [], []
    for data in sent:
        whole = rebuild_sections(data, whole)
        assert "kiln_sections_kept" not in data
        rebuilt.append([tuple(s) for s in data["sections"]])
    assert rebuilt == phases


def test_a_report_from_elsewhere_keeps_its_sections():
    data = {"sections": [CALL]}
    assert rebuild_sections(data, [SETUP]) == [CALL]
    assert data["sections"] == [CALL]


def test_the_record_keeps_head_and_tail_of_a_long_text():
    short = "x" * 100
    assert clip_for_record(short) is short
    text = "h" * RECORD_TEXT_LIMIT + "m" * 10 + "t" * RECORD_TEXT_LIMIT
    clipped = clip_for_record(text)
    assert len(clipped) < RECORD_TEXT_LIMIT + 200
    assert clipped.startswith("h" * (RECORD_TEXT_LIMIT // 2))
    assert clipped.endswith("t" * (RECORD_TEXT_LIMIT // 2))
    assert f"{len(text) - RECORD_TEXT_LIMIT} characters left out" in clipped
