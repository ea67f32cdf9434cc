"""Where "!!! KeyboardInterrupt !!!" points when Kiln's own code was running."""

import sys

from kiln_harness.debugging import interrupt_location
from kiln_harness.protocol import ProtocolError, encode_frame


def _traceback_of(call):
    try:
        call()
    except BaseException:
        return sys.exc_info()[2]
    raise AssertionError("did not raise")


def test_kiln_frames_are_skipped_like_hidden_ones():
    def calls_kiln():
        encode_frame({})  # raises inside kiln_harness.protocol

    tb = _traceback_of(calls_kiln)
    assert isinstance(_last_exc(calls_kiln), ProtocolError)
    path, line = interrupt_location(tb)
    assert path == __file__
    assert line == calls_kiln.__code__.co_firstlineno + 1


def test_tracebackhide_frames_are_skipped_as_pytest_does():
    def hidden():
        __tracebackhide__ = True
        raise KeyboardInterrupt

    def caller():
        hidden()

    path, line = interrupt_location(_traceback_of(caller))
    assert path == __file__
    assert line == caller.__code__.co_firstlineno + 1


def test_the_innermost_visible_frame_wins():
    def inner():
        raise KeyboardInterrupt

    path, line = interrupt_location(_traceback_of(inner))
    assert (path, line) == (__file__, inner.__code__.co_firstlineno + 1)


def _last_exc(call):
    try:
        call()
    except BaseException as exc:
        return exc
