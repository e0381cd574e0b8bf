"""A durable MQTT 3.1.1 subscriber for bulk intake: QoS 1 in, PUBACKs out in one write per batch.

Why not paho: paho's receive + ack costs ≈ 26–30 µs per message in Python (FACTS.md), which alone caps
a process near 35k messages/s before any work. This client reads the socket in large chunks and cuts
PUBLISH packets out of them in one loop; acknowledging a batch is one `sendall` of 4-byte PUBACKs.
It does only what the ingest needs: CONNECT (persistent session, user/password, optional TLS),
SUBSCRIBE at QoS 1, PUBLISH (QoS 0/1) received, PUBACK sent, PINGREQ keepalive, DISCONNECT.
Reconnecting is the caller's loop (`IngestWorker`), as acks are only valid on the connection that
received the message.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from ingest.message import Msg

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1, 2, 3, 4, 8, 9, 12, 13, 14,
)  # fmt: skip
_RECV_BYTES = 1 << 20
_CONNACK_TEXT = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


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
    return b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids)


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


class Subscriber:
    """One connection: connect, subscribe, then `receive()` batches and `ack()` them."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        user: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive_s: int = 30,
        clean: bool = False,
        connect_timeout_s: float = 10.0,
    ):
        self.keepalive_s = keepalive_s
        self._send_lock = threading.Lock()
        self._buf = bytearray()
        self._last_send = time.monotonic()
        self.suback: list[int] | None = None
        try:
            raw = socket.create_connection((host, port), timeout=connect_timeout_s)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
            self._send(connect_packet(client_id, keepalive_s, clean, user, password))
            self.session_present = self._connack()
        except OSError as err:
            raise WireError(f"connect to {host}:{port}: {err}") from err
        # One SSL object must not read and write from two threads at once: with TLS, receive() and the
        # writer's acks share the send lock, and receive() waits briefly so acks are not held up.
        self._tls = tls is not None
        self.sock.settimeout(0.05 if self._tls else 1.0)

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)
            self._last_send = time.monotonic()

    def _connack(self) -> bool:
        while True:
            packets, _used = split_packets(self._buf)
            if packets:
                kind, _flags, a, b = packets[0]
                body = bytes(self._buf[a:b])
                del self._buf[:b]  # only the CONNACK: queued PUBLISHes may follow it in the same read
                if kind != CONNACK or len(body) != 2:
                    raise WireError(f"expected CONNACK, got packet type {kind}")
                if body[1]:
                    raise WireError(f"broker refused the connection: {_CONNACK_TEXT.get(body[1], body[1])}")
                return bool(body[0] & 1)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WireError("connection closed before CONNACK")
            self._buf += chunk

    def subscribe(self, topic: str | list[str], qos: int = 1) -> None:
        """Send SUBSCRIBE; `suback` is set when the broker answers (see `receive`)."""
        self._send(subscribe_packet(1, topic, qos))

    def ack(self, mids: list[int]) -> None:
        """PUBACK every QoS 1 packet id, in one write."""
        if mids:
            try:
                self._send(pubacks(mids))
            except OSError as err:
                raise WireError(f"ack: {err}") from err

    def ping_if_due(self) -> None:
        """PINGREQ when nothing was sent for half the keepalive."""
        if time.monotonic() - self._last_send > self.keepalive_s / 2:
            try:
                self._send(b"\xc0\x00")
            except OSError as err:
                raise WireError(f"ping: {err}") from err

    def receive(self, on_suback: Callable[[list[int]], None] | None = None) -> list[Msg]:
        """The messages that arrived (waits up to 1 s), stamped with the time they were read; WireError
        when the connection is gone."""
        self.ping_if_due()
        try:
            if self._tls:
                with self._send_lock:
                    chunk = self.sock.recv(_RECV_BYTES)
            else:
                chunk = self.sock.recv(_RECV_BYTES)
        except (TimeoutError, ssl.SSLWantReadError):
            return []
        except OSError as err:
            raise WireError(f"receive: {err}") from err
        if not chunk:
            raise WireError("the broker closed the connection")
        buf = self._buf
        buf += chunk
        packets, used = split_packets(buf)
        out: list[Msg] = []
        append = out.append
        now = time.time()
        for kind, flags, a, b in packets:
            if kind == PUBLISH:
                t = a + 2 + ((buf[a] << 8) | buf[a + 1])
                topic = buf[a + 2 : t].decode("utf-8", "replace")
                if flags & 0x06:  # QoS 1 (or 2, which we never subscribe at)
                    mid = (buf[t] << 8) | buf[t + 1]
                    append(Msg(topic, bytes(buf[t + 2 : b]), now, bool(flags & 0x08), mid))
                else:
                    append(Msg(topic, bytes(buf[t:b]), now))
            elif kind == SUBACK:
                self.suback = list(buf[a + 2 : b])
                if on_suback:
                    on_suback(self.suback)
            elif kind != PINGRESP:
                raise WireError(f"unexpected packet type {kind} from the broker")
        del buf[:used]
        return out

    def close(self, disconnect: bool = True) -> None:
        """DISCONNECT (clean) and close the socket."""
        try:
            if disconnect:
                self._send(b"\xe0\x00")
        except OSError:
            pass  # already gone
        try:
            self.sock.close()
        except OSError:
            pass  # already closed
