"""The zygote's check of the registry's scope against pytest's own rootdir."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiln_harness.pytest_bridge import KilnZygotePlugin


class _Chan:
    def __init__(self):
        self.sent = []

    def send(self, header, body=b""):
        self.sent.append(header)


class _Finder:
    """Stands in for loader.KilnFinder: finds nothing, so imports go on normally."""

    attached = None

    def find_spec(self, *args, **kwargs):
        return None

    def attach_rewrite_hook(self, hook, pass_hook):
        self.attached = hook


@pytest.fixture
def finder():
    f = _Finder()
    sys.meta_path.insert(0, f)
    yield f
    if f in sys.meta_path:
        sys.meta_path.remove(f)


def _plugin(chan, finder, prepared):
    return KilnZygotePlugin(
        chan, {"socketPath": "unused"}, finder, "registry: 3 modules", registry_rootdir=prepared
    )


def test_a_registry_prepared_for_another_rootdir_is_dropped_and_reported(finder, tmp_path):
    chan = _Chan()
    plugin = _plugin(chan, finder, str(tmp_path / "tests"))
    plugin.pytest_load_initial_conftests(early_config=SimpleNamespace(rootpath=tmp_path))
    assert finder not in sys.meta_path
    assert plugin.finder is None
    assert chan.sent == [
        {
            "type": "registry:rootdir-mismatch",
            "prepared": str(tmp_path / "tests"),
            "rootdir": str(tmp_path),
        }
    ]
    assert "off for this run" in plugin.registry_note


def test_a_registry_prepared_for_pytests_rootdir_stays_first(finder, tmp_path):
    chan = _Chan()
    plugin = _plugin(chan, finder, str(tmp_path))
    sys.meta_path.remove(finder)
    sys.meta_path.append(finder)
    plugin.pytest_load_initial_conftests(
        early_config=SimpleNamespace(rootpath=Path(str(tmp_path)), getini=lambda name: False)
    )
    assert sys.meta_path[0] is finder
    assert plugin.finder is finder
    assert chan.sent == []
