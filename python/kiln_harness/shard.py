"""`kiln test --shard I/N`: run one shard's part of the collected items.

Every shard collects the whole suite; the supervisor computes the split from
the recorded durations (src/scheduler/shard.ts, the one definition of it) and
answers with the positions this shard keeps. The others are deselected as
pytest's own --deselect does (pytest_deselected), so pytest's summary says
"N deselected", as pytest-split's --group does.
"""

import sys

import pytest

from .exit_codes import INTERNAL_ERROR


class ShardFilter:
    def __init__(self, chan, shard):
        self.chan = chan
        self.index = shard["index"]
        self.count = shard["count"]
        self.note = None

    # A hookwrapper's code after the yield runs once every other
    # modifyitems (-k/-m deselection, --lf, plugins' reordering) is done:
    # the split is made over exactly what would otherwise run.
    @pytest.hookimpl(hookwrapper=True)
    def pytest_collection_modifyitems(self, session, config, items):
        yield
        self.chan.send(
            {
                "type": "shard:items",
                "rootdir": str(config.rootpath),
                "nodeids": [item.nodeid for item in items],
            }
        )
        frame = self.chan.recv()
        if frame is None or frame[0].get("type") != "shard:keep":
            sys.stderr.write("kiln zygote: expected shard:keep from the supervisor\n")
            raise SystemExit(INTERNAL_ERROR)
        keep = set(frame[0]["indices"])
        self.note = frame[0].get("note") or None
        kept = [item for position, item in enumerate(items) if position in keep]
        dropped = [item for position, item in enumerate(items) if position not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_report_collectionfinish(self, config, items):
        return self.note
