"""MQTT 3.1.1 packets as the ingest's subscriber (ingest/wire.py) needs them: built, and cut out of the bytes
the socket delivered and made into messages.

Cutting and decoding runs once per message on the worker's network thread (12 % of the running worker's
samples in py-spy, bench.ingest), so it lives apart from the socket handling and is compiled with the rest of
the hot path (ingest/compiled.py). Nothing here does I/O.
"""

from __future__ import annotations

import struct

from mypy_extensions import mypyc_attr

from ingest.message import Msg

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1, 2, 3, 4, 8, 9, 12, 13, 14,
)  # fmt: skip


@mypyc_attr(native_class=False)  # compiled, a native class cannot derive from ConnectionError
class WireError(ConnectionError):
    """The connection failed, was refused, or broke the protocol."""


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(
    client_id: str, keepalive_s: int, clean: bool, user: str | None = None, password: str | None = None
) -> bytes:
    """CONNECT for MQTT 3.1.1."""
    flags = 0x02 if clean else 0
    body = _utf8(client_id)
    if user is not None:
        flags |= 0x80
        body += _utf8(user)
        if password is not None:
            flags |= 0x40
            body += _utf8(password)
    var = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s)
    payload = var + body
    return bytes([CONNECT << 4]) + _remaining_length(len(payload)) + payload


def subscribe_packet(mid: int, topic: str | list[str], qos: int = 1) -> bytes:
    """SUBSCRIBE one filter or several."""
    topics = [topic] if isinstance(topic, str) else topic
    payload = struct.pack("!H", mid) + b"".join(_utf8(t) + bytes([qos]) for t in topics)
    return bytes([(SUBSCRIBE << 4) | 0x02]) + _remaining_length(len(payload)) + payload


def publish_packet(topic: str, payload: bytes, qos: int = 0, mid: int = 0, retain: bool = False) -> bytes:
    """PUBLISH (the bench's fast publisher and tests use it)."""
    head = _utf8(topic) + (struct.pack("!H", mid) if qos else b"")
    body = head + payload
    return bytes([(PUBLISH << 4) | (qos << 1) | int(retain)]) + _remaining_length(len(body)) + body


def pubacks(mids: list[int]) -> bytes:
    """PUBACKs for many packet ids in one buffer."""
    out = bytearray()
    for m in mids:
        out += b"\x40\x02"
        out += m.to_bytes(2, "big")
    return bytes(out)


def split_packets(buf: bytearray) -> tuple[list[tuple[int, int, int, int]], int]:
    """Complete packets at the head of buf as (type, flags, body start, body end); and the bytes they took."""
    out: list[tuple[int, int, int, int]] = []
    pos, end = 0, len(buf)
    while pos + 2 <= end:
        first = buf[pos]
        mult, length, i = 1, 0, pos + 1
        while True:
            if i >= end:
                return out, pos
            byte = buf[i]
            length += (byte & 0x7F) * mult
            i += 1
            if not byte & 0x80:
                break
            mult *= 128
            if mult > 128**3:
                raise WireError("malformed remaining length")
        if i + length > end:
            break
        out.append((first >> 4, first & 0x0F, i, i + length))
        pos = i + length
    return out, pos


def read_packets(buf: bytearray, now: float) -> tuple[list[Msg], list[int] | None, int]:
    """The complete packets at the head of buf: the PUBLISHes as messages stamped `now`, a SUBACK's return
    codes (None when there was none), and the bytes used (the caller drops them). WireError on a packet
    a broker never sends a subscriber, or a PUBLISH too short for its own topic and packet id."""
    packets, used = split_packets(buf)
    out: list[Msg] = []
    suback: list[int] | None = None
    for kind, flags, a, b in packets:
        if kind == PUBLISH:
            if b - a < 2:
                raise WireError("PUBLISH without a topic")
            t = a + 2 + ((buf[a] << 8) | buf[a + 1])
            qos1 = bool(flags & 0x06)  # QoS 1 (or 2, which we never subscribe at)
            if t + (2 if qos1 else 0) > b:
                raise WireError("PUBLISH shorter than its topic")
            topic = buf[a + 2 : t].decode("utf-8", "replace")
            if qos1:
                mid = (buf[t] << 8) | buf[t + 1]
                out.append(Msg(topic, bytes(buf[t + 2 : b]), now, bool(flags & 0x08), mid))
            else:
                out.append(Msg(topic, bytes(buf[t:b]), now))
        elif kind == SUBACK:
            suback = list(buf[a + 2 : b])
        elif kind != PINGRESP:
            raise WireError(f"unexpected packet type {kind} from the broker")
    return out, suback, used
