"""The worker's inbox (kiln_harness.worker._Inbox): what each supervisor
message does to the worker's state. work:later is `kiln agent`'s: the worker
finishes what it holds as its last and waits, without asking again, until
the next `work` (src/zygote/run-machine.ts, open-ended runs)."""

from kiln_harness.worker import _Inbox


def test_work_later_waits_without_asking_again_until_work_arrives():
    inbox = _Inbox(chan=None)
    inbox.asked = True
    inbox._apply({"type": "work:later"})
    assert inbox.later and inbox.asked and not inbox.no_more
    inbox._apply({"type": "work", "indices": [3, 4]})
    assert list(inbox.pending) == [3, 4]
    assert not inbox.later and not inbox.asked


def test_work_none_still_ends_the_worker():
    inbox = _Inbox(chan=None)
    inbox.asked = True
    inbox._apply({"type": "work:none"})
    assert inbox.no_more and not inbox.asked and not inbox.later
