"""A fast QoS 1 publisher for loading a broker (benchmarks and fleet-size tests): pipelined PUBLISH over one
socket with a window of unacknowledged packets, so publishing a million readings takes seconds, not the
minutes paho needs (≈ 3–6k QoS 1 messages/s per Python publisher, FACTS.md). Not a benchmark itself.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

from ingest.packets import PUBACK, WireError, connect_packet, publish_packet, split_packets

WINDOW = 20_000  # packets sent and not yet acknowledged


def publish_all(
    host: str,
    port: int,
    messages: Iterable[tuple[str, bytes]],
    client_id: str,
    user: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    window: int = WINDOW,
) -> int:
    """Publish every (topic, payload) at QoS 1 and wait for every PUBACK; returns how many were acked."""
    raw = socket.create_connection((host, port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
    buf = bytearray()
    sock.sendall(connect_packet(client_id, 60, True, user, password))
    while True:
        packets, _used = split_packets(buf)
        if packets:
            kind, _f, a, b = packets[0]
            if kind != 2 or buf[a + 1] != 0:
                raise WireError(f"publisher refused (CONNACK {bytes(buf[a:b])!r})")
            del buf[:b]
            break
        chunk = sock.recv(4096)
        if not chunk:
            raise WireError("broker closed the connection before CONNACK")
        buf += chunk
    sent = acked = 0
    out = bytearray()
    mid = 0

    def drain(block: bool) -> int:
        nonlocal buf
        if not block:
            sock.setblocking(False)
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, ssl.SSLWantReadError):  # nothing yet (TLS: no whole record yet)
            return 0
        finally:
            sock.setblocking(True)
        if not chunk:
            raise WireError("broker closed the connection")
        buf += chunk
        packets, used = split_packets(buf)
        del buf[:used]
        return sum(1 for kind, *_ in packets if kind == PUBACK)

    for topic, payload in messages:
        mid = mid % 65535 + 1
        out += publish_packet(topic, payload, qos=1, mid=mid)
        sent += 1
        if len(out) > 256 * 1024:
            sock.sendall(out)
            out.clear()
            acked += drain(block=False)
            while sent - acked > window:
                acked += drain(block=True)
    if out:
        sock.sendall(out)
    while acked < sent:
        acked += drain(block=True)
    sock.sendall(b"\xe0\x00")
    sock.close()
    return acked
