"""Free local TCP ports and waiting for a listener."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

_HANDED_OUT: set[int] = set()  # never the same port twice from one process (a service may bind it late)


def _ephemeral_low() -> int:
    """The lowest port the kernel picks for outgoing connections (Linux: ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A local port nothing listens on, below the kernel's ephemeral range.

    A port from that range (what `bind(0)` gives) can be taken, before the service binds it, by any
    outgoing connection — even one aimed at that very port while nothing listens there yet: Linux then
    connects the socket to itself (TCP simultaneous open) and the service's bind fails "address already in
    use". Seen: a NATS node dialling a peer's route port before the peer had started.
    """
    top = _ephemeral_low()
    bottom = 20000 if top > 21000 else 1024
    for _ in range(500):
        port = random.randrange(bottom, top)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:  # a crowded range: the kernel's choice, as before
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout_s: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s} s")
