"""A durable MQTT 3.1.1 subscriber for bulk intake: QoS 1 in, PUBACKs out in one write per batch.

Why not paho: paho's receive + ack costs ≈ 26–30 µs per message in Python (FACTS.md), which alone caps
a process near 35k messages/s before any work. This client reads the socket in large chunks and cuts
PUBLISH packets out of them in one loop (ingest/packets.py, compiled with the hot path); acknowledging a
batch is one `sendall` of 4-byte PUBACKs. It does only what the ingest needs: CONNECT (persistent
session, user/password, optional TLS), SUBSCRIBE at QoS 1, PUBLISH (QoS 0/1) received, PUBACK sent,
PINGREQ keepalive, DISCONNECT. Reconnecting is the caller's loop (`IngestWorker`), as acks are only valid
on the connection that received the message.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

from ingest.message import Msg
from ingest.packets import (
    CONNACK,
    WireError,
    connect_packet,
    pubacks,
    read_packets,
    split_packets,
    subscribe_packet,
)

_RECV_BYTES = 1 << 20
_CONNACK_TEXT = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


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

    def _recv_tls(self) -> bytes:
        """What has arrived, as one chunk. One TLS read returns one record, and a broker may send a record
        per few messages (NATS: ~500 bytes, 5 messages), so after the first read (waiting up to the
        socket's timeout) the records already here are read too, without waiting, up to _RECV_BYTES:
        the work per chunk (parsing, stamping, queueing) is shared by a hundred messages, not five (the
        receive thread's CPU per message from a NATS node: 6.3-6.7 -> 4.2-4.7 µs; plain TCP 1.5)."""
        first = self.sock.recv(_RECV_BYTES)
        if not first:
            return first
        parts, total = [first], len(first)
        self.sock.settimeout(0.0)
        try:
            while total < _RECV_BYTES:
                more = self.sock.recv(_RECV_BYTES - total)
                if not more:  # closed: the next receive() says so
                    break
                parts.append(more)
                total += len(more)
        except OSError:  # nothing more yet (SSLWantReadError), or an error the next receive() meets again
            pass
        finally:
            self.sock.settimeout(0.05)
        return first if len(parts) == 1 else b"".join(parts)

    def receive(self, on_suback: Callable[[list[int]], None] | None = None) -> list[Msg]:
        """The messages that arrived (waits up to 1 s), stamped with the time they were read; WireError
        when the connection is gone."""
        self.ping_if_due()
        try:
            if self._tls:
                with self._send_lock:
                    chunk = self._recv_tls()
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
        out, suback, used = read_packets(buf, time.time())
        del buf[:used]
        if suback is not None:
            self.suback = suback
            if on_suback:
                on_suback(suback)
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
