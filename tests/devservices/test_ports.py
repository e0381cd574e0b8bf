"""Test services get ports that no outgoing connection can take before the service binds them."""

from __future__ import annotations

import socket

from devservices.ports import _ephemeral_low, free_port


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable():
    """A port in the kernel's ephemeral range can be taken by a connection dialling it before its server
    starts (Linux connects such a socket to itself), and the server then fails to bind: a clean-clone run
    lost a NATS node that way. Ports handed out lie below the range, never twice, and bind."""
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < _ephemeral_low() for p in ports)
    for p in ports[:20]:
        for _ in range(20):  # dialling a port nobody listens on, as a peer's retries do: refused
            with socket.socket() as c:
                assert c.connect_ex(("127.0.0.1", p)) != 0
        with socket.socket() as s:  # and the service still gets it
            s.bind(("127.0.0.1", p))
            s.listen()
