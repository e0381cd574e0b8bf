"""MQTT client tests that run under MicroPython itself (and CPython): an in-memory fake socket.

Run by tests/firmware/test_mqtt_client.py with the micropython binary; each test_* is a
plain function, so a failure is an AssertionError with the exact bytes.
"""

import struct

from mqtt_client import MQTTClient, MQTTTimeout


class FakeSocket:
    """Replays scripted broker bytes; records what the client wrote."""

    def __init__(self, incoming=b""):
        self.incoming = bytearray(incoming)
        self.written = bytearray()
        self.timeout = None
        self.blocking = True

    def write(self, data):
        self.written.extend(bytes(data))
        return len(data)

    def read(self, n):
        if not self.incoming:
            if not self.blocking:
                raise OSError(11)  # EAGAIN
            raise OSError(110)  # ETIMEDOUT
        out = bytes(self.incoming[:n])
        self.incoming = self.incoming[n:]
        return out

    def settimeout(self, t):
        self.timeout = t
        self.blocking = True

    def setblocking(self, flag):
        self.blocking = flag

    def close(self):
        pass


def puback(pid):
    return struct.pack("!BBH", 0x40, 2, pid)


def client_with(incoming=b"", **kw):
    c = MQTTClient("m-1", "127.0.0.1", keepalive=kw.pop("keepalive", 60), timeout_s=kw.pop("timeout_s", 1),
                   **kw)
    c.sock = FakeSocket(incoming)
    return c


def test_qos1_publish_exact_bytes():
    c = client_with(puback(1))
    c.publish("t/a", b"hi", qos=1)
    assert bytes(c.sock.written) == b"\x32\x09\x00\x03t/a\x00\x01hi", bytes(c.sock.written)


def test_qos0_retained_publish_exact_bytes():
    c = client_with()
    c.publish("t", "x", retain=True)
    assert bytes(c.sock.written) == b"\x31\x04\x00\x01tx", bytes(c.sock.written)


def test_long_payload_uses_two_length_bytes():
    c = client_with(puback(1))
    c.publish("t", b"a" * 200, qos=1)
    w = bytes(c.sock.written)
    assert w[:3] == b"\x32\xcd\x01", w[:3]  # remaining length 2 + 1 + 2 + 200 = 205, as a varint
    assert len(w) == 3 + 205


def test_packet_id_wraps_to_1_not_0():
    c = client_with()
    c.pid = 65534
    pids = [c._next_pid() for _ in range(3)]
    assert pids == [65535, 1, 2], pids


def test_puback_timeout_raises_instead_of_blocking():
    c = client_with(b"")
    try:
        c.publish("t", b"x", qos=1)
    except MQTTTimeout:
        return
    raise AssertionError("publish returned without a PUBACK")


def test_puback_for_another_pid_is_not_taken():
    c = client_with(puback(7))
    try:
        c.publish("t", b"x", qos=1)
    except MQTTTimeout:
        return
    raise AssertionError("a PUBACK for packet 7 acknowledged packet 1")


def test_prepared_payload_in_shared_buffer():
    buf = bytearray(300)
    c = client_with(puback(1), buf=buf)
    view = c.payload_buffer()
    view[0:3] = b"abc"
    c.publish_prepared("wm/v1/m-1/readings", 3, qos=1)
    w = bytes(c.sock.written)
    assert w == b"\x32\x19\x00\x12wm/v1/m-1/readings\x00\x01abc", w


def test_maintain_pings_after_half_keepalive():
    import time

    c = client_with(b"\xd0\x00", keepalive=2)
    c.last_tx_ms = time.ticks_add(time.ticks_ms(), -1500)
    c.maintain()
    assert bytes(c.sock.written) == b"\xc0\x00", bytes(c.sock.written)


def test_incoming_qos1_message_reaches_callback_and_is_acked():
    got = []
    msg = bytes([0x32, 2 + 3 + 2 + 2]) + b"\x00\x03cfg\x00\x05{}"
    c = client_with(msg)
    c.set_callback(lambda t, m: got.append((t, m)))
    c.check_msg()
    assert got == [(b"cfg", b"{}")], got
    assert bytes(c.sock.written) == puback(5), bytes(c.sock.written)


def test_oversize_message_is_refused():
    c = client_with(buf=bytearray(200))
    try:
        c.publish("t", b"x" * 100)
    except ValueError:
        return
    raise AssertionError("a message larger than the buffer was accepted")


def run():
    names = [n for n in sorted(globals()) if n.startswith("test_")]
    for name in names:
        globals()[name]()
        print("ok", name)
    print("passed", len(names))


if __name__ == "__main__":
    run()
