"""The subscriber's packet reader: whole packets only, whatever the socket cut; a broken stream refused."""

from __future__ import annotations

import pytest

from ingest.packets import (
    PINGRESP,
    PUBACK,
    SUBACK,
    WireError,
    pubacks,
    publish_packet,
    read_packets,
    split_packets,
)


def _publishes() -> bytes:
    out = bytearray()
    out += publish_packet("wm/v1/m-1/readings", b'{"v":1}', qos=1, mid=1)
    out += publish_packet("wm/v1/m-2/readings", b"", qos=0)
    out += publish_packet("wm/v1/m-3/readings", b"x" * 300, qos=1, mid=65535)  # a 2-byte remaining length
    out += bytes([PINGRESP << 4, 0])
    return bytes(out)


def test_publishes_are_read_whole_at_every_cut():
    raw = _publishes()
    want = [
        ("wm/v1/m-1/readings", b'{"v":1}', 1),
        ("wm/v1/m-2/readings", b"", 0),
        ("wm/v1/m-3/readings", b"x" * 300, 65535),
    ]
    for cut in range(len(raw) + 1):
        buf = bytearray(raw[:cut])
        got, suback, used = read_packets(buf, 5.0)
        del buf[:used]
        buf += raw[cut:]
        rest, _, used2 = read_packets(buf, 6.0)
        assert used + used2 == len(raw) and suback is None
        msgs = got + rest
        assert [(m.topic, m.payload, m.mid) for m in msgs] == want, cut
        assert all(m.received_s == (5.0 if k < len(got) else 6.0) for k, m in enumerate(msgs))


def test_a_redelivery_is_marked_and_a_suback_returned():
    packet = bytearray(publish_packet("t", b"p", qos=1, mid=9))
    packet[0] |= 0x08  # DUP
    buf = bytearray(bytes([SUBACK << 4, 3, 0, 1, 0x80]) + packet)
    msgs, suback, used = read_packets(buf, 0.0)
    assert suback == [0x80] and used == len(buf)
    assert [(m.topic, m.dup, m.mid) for m in msgs] == [("t", True, 9)]


@pytest.mark.parametrize(
    "raw, why",
    [
        (bytes([PUBACK << 4, 2, 0, 1]), "unexpected packet type 4"),
        (bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), "malformed remaining length"),
        (bytes([0x30, 1, 0]), "without a topic"),
        (bytes([0x30, 3, 0, 9, 65]), "shorter than its topic"),  # topic of 9 bytes in a 3-byte packet
        (bytes([0x32, 4, 0, 2, 65, 66]), "shorter than its topic"),  # QoS 1 without its packet id
    ],
)
def test_a_broken_stream_is_a_wire_error(raw, why):
    with pytest.raises(WireError, match=why):
        read_packets(bytearray(raw), 0.0)


def test_an_incomplete_length_waits_for_more_bytes():
    assert split_packets(bytearray([0x30, 0x80])) == ([], 0)
    assert read_packets(bytearray([0x30]), 0.0) == ([], None, 0)


def test_pubacks_are_four_bytes_each():
    assert pubacks([1, 258, 65535]) == b"\x40\x02\x00\x01\x40\x02\x01\x02\x40\x02\xff\xff"
    assert pubacks([]) == b""
