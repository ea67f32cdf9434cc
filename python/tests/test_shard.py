"""kiln_harness.shard in a real pytest session (pytester, in process): the
zygote's half of --shard, against a channel that answers as the supervisor
would (the split itself is src/scheduler/shard.ts's)."""

from kiln_harness.shard import ShardFilter

pytest_plugins = ["pytester"]


class AnsweringChannel:
    """Sends are recorded; recv answers shard:keep with `keep`."""

    def __init__(self, keep):
        self.sent = []
        self.keep = keep

    def send(self, message):
        self.sent.append(message)

    def recv(self):
        return ({"type": "shard:keep", "indices": self.keep, "note": "kiln: shard 1/2: test note"}, b"")


def test_shard_filter_sends_what_remains_after_pytest_and_deselects_the_rest(pytester):
    pytester.makepyfile(
        test_a="def test_1():\n    pass\n\ndef test_2():\n    pass\n\ndef test_skip_me():\n    pass\n",
    )
    chan = AnsweringChannel([1])
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-k", "not skip_me", plugins=[ShardFilter(chan, {"index": 1, "count": 2})]
    )
    # -k ran first: the split is over what pytest would otherwise run.
    [sent] = chan.sent
    assert sent["type"] == "shard:items"
    assert sent["nodeids"] == ["test_a.py::test_1", "test_a.py::test_2"]
    # Position 1 kept; the other shard's test is deselected, as pytest counts it.
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["kiln: shard 1/2: test note"])


def test_shard_filter_refuses_a_wrong_answer(pytester):
    pytester.makepyfile(test_a="def test_1():\n    pass\n")

    class Wrong(AnsweringChannel):
        def recv(self):
            return ({"type": "worker:spawn", "workerId": 1}, b"")

    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", plugins=[ShardFilter(Wrong([]), {"index": 1, "count": 1})]
    )
    assert result.ret == 3
