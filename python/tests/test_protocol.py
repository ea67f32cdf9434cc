import json
import struct

import pytest

from kiln_harness.protocol import MAX_FRAME_BYTES, FrameDecoder, ProtocolError, encode_frame


def test_roundtrip_header_and_body():
    frame = encode_frame({"type": "test:report", "nodeid": "t.py::ünï"}, b"\x00\xffbody")
    [(header, body)] = FrameDecoder().feed(frame)
    assert header == {"type": "test:report", "nodeid": "t.py::ünï", "v": 1}
    assert body == b"\x00\xffbody"


def test_every_split_offset_yields_the_same_frames():
    stream = b"".join(
        encode_frame({"type": f"t{i}", "i": i}, bytes([i]) * i) for i in range(4)
    )
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [h["i"] for h, _ in frames] == [0, 1, 2, 3]
        assert [b for _, b in frames] == [bytes([i]) * i for i in range(4)]
        assert decoder.pending == 0


def test_truncated_frame_waits_for_more():
    frame = encode_frame({"type": "x"}, b"abc")
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<I", 2) + b"xx",  # shorter than the header-length field
        struct.pack("<I", MAX_FRAME_BYTES + 1),  # oversized
        struct.pack("<II", 8, 9) + b"abcd",  # header longer than the frame
        struct.pack("<II", 7, 3) + b"{{{",  # not JSON
        struct.pack("<II", 6, 2) + b"[]",  # JSON but not an object with a type
    ],
)
def test_garbage_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(data)


def test_header_is_compact_json_with_version():
    frame = encode_frame({"type": "hello"})
    (hlen,) = struct.unpack_from("<I", frame, 4)
    assert json.loads(frame[8 : 8 + hlen]) == {"type": "hello", "v": 1}


def test_frame_without_type_is_a_bug():
    with pytest.raises(ProtocolError, match="bug in kiln"):
        encode_frame({"nodeid": "x"})
