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
                return None  # a non-blocking MicroPython stream with nothing to read
            raise OSError(110)  # ETIMEDOUT
        out = bytes(self.incoming[:n])
        self.incoming = self.incoming[n:]
        return out

    def readinto(self, buf):
        data = self.read(len(buf))
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

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
    c.sock = c._raw = FakeSocket(incoming)
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
    c.set_callback(lambda t, m: got.append((t, bytes(m))))
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


def test_oversize_incoming_message_is_read_away_not_allocated():
    got = []
    body = b"x" * 3000
    size = 2 + 3 + 2 + len(body)
    msg = bytes([0x32, (size & 0x7F) | 0x80, size >> 7]) + b"\x00\x03cfg\x00\x09" + body
    c = client_with(msg + puback(1), max_in=256)
    c.set_callback(lambda t, m: got.append(t))
    c.check_msg()
    assert got == [] and c.dropped_in == 1 and c.last_dropped == (b"cfg", 3000), (got, c.last_dropped)
    assert bytes(c.sock.written) == puback(9), bytes(c.sock.written)  # still acknowledged once
    assert c._ack_body == (1, 0), "the packet after it was read in step (the stream stayed in sync)"


def test_tls_without_a_ca_is_refused():
    from mqtt_client import MQTTException

    c = MQTTClient("m-1", "broker.example", ssl=True)
    try:
        c._wrap(FakeSocket())
    except MQTTException as err:
        assert "no CA" in str(err), str(err)
        return
    raise AssertionError("an unverified TLS connection was allowed")


def test_pem_ca_becomes_der():
    from mqtt_client import der

    pem = b"-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n"
    assert der(pem) == b"\x00\x01\x02\x03", der(pem)
    assert der(b"\x30\x82") == b"\x30\x82"


def run():
    names = [n for n in sorted(globals()) if n.startswith("test_")]
    for name in names:
        globals()[name]()
        print("ok", name)
    print("passed", len(names))


if __name__ == "__main__":
    run()
