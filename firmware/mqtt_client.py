"""MQTT 3.1.1 client with umqtt.simple's API, hardened for QoS 1 over months.

Differences from micropython-lib's umqtt.simple (1.3.4 on PyPI): packet ids wrap
1..65535 (never 0), a PUBACK that does not come within `timeout_s` raises
MQTTTimeout instead of blocking forever, `maintain()` sends PINGREQ so the broker's
keepalive (and with it the last will) works, and TLS uses `ssl` (no `ussl`).

TLS is verified: `ssl.SSLContext(PROTOCOL_TLS_CLIENT)` with CERT_REQUIRED, the provisioned
CA (`ca`, PEM bytes) and the broker's name as server_hostname. MicroPython's SSLSocket
has no settimeout(), so timeouts are set on the raw socket before wrapping, and polls
switch the raw socket to non-blocking. An incoming message larger than `max_in` bytes is
read and thrown away in small pieces, never allocated (`dropped_in` counts them).
"""

import socket
import struct

from micropython import const

_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBACK = const(0x90)
_PINGRESP = const(0xD0)
_HEAD_ROOM = const(128)  # fixed header, topic and packet id fit before the payload
_TOPIC_MAX = const(128)


def der(cert):
    """DER bytes of a PEM certificate (MicroPython's load_verify_locations rejects PEM cadata)."""
    if not cert.startswith(b"-----BEGIN"):
        return cert
    import binascii

    body = cert.split(b"-----")[2]
    return binascii.a2b_base64(body.replace(b"\n", b"").replace(b"\r", b""))


class MQTTException(Exception):
    pass


class MQTTTimeout(MQTTException):
    pass


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=False, ssl_params=None, timeout_s=10, buf_size=4096 + _HEAD_ROOM, buf=None,
                 ca=None, max_in=1024):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.ssl_params = ssl_params or {}
        self.timeout_s = timeout_s
        self.sock = None
        self.pid = 0
        self.cb = None
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        self.last_tx_ms = 0
        self._hdr = bytearray(5)
        # Allocated once (late large allocations fail on a fragmented heap); a caller may
        # pass its own and build payloads in place (payload_buffer, publish_prepared).
        self._buf = buf if buf is not None else bytearray(buf_size)
        self._ack_body = (0, 0)
        self.ca = ca
        self._raw = None  # the TCP socket under TLS: timeouts are set here
        self.max_in = max_in
        self._in = bytearray(max_in)  # incoming message bodies land here, never in a new allocation
        self.dropped_in = 0
        self.last_dropped = None  # (topic, size) of the last message thrown away

    # -- framing -------------------------------------------------------------
    def _write(self, data, n=None):
        self.sock.write(data if n is None else memoryview(data)[:n])

    def _send_str(self, s):
        self._write(struct.pack("!H", len(s)))
        self._write(s)

    def _read(self, n):
        data = self.sock.read(n)
        if data is None or len(data) < n:
            raise OSError(-1)
        return data

    def _recv_len(self):
        n = 0
        sh = 0
        while True:
            b = self._read(1)[0]
            n |= (b & 0x7F) << sh
            if not b & 0x80:
                return n
            sh += 7

    def _fixed_header(self, first, size):
        hdr = self._hdr
        hdr[0] = first
        i = 1
        while size > 0x7F:
            hdr[i] = (size & 0x7F) | 0x80
            size >>= 7
            i += 1
        hdr[i] = size
        self._write(hdr, i + 1)

    def _next_pid(self):
        # 1..65535; 0 is not a valid packet id.
        self.pid = self.pid % 65535 + 1
        return self.pid

    # -- umqtt.simple API ------------------------------------------------------
    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        if not 0 <= qos <= 1:
            raise ValueError("qos must be 0 or 1")
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True):
        import time

        raw = socket.socket()
        self._raw = self.sock = raw
        raw.settimeout(self.timeout_s)
        addr = socket.getaddrinfo(self.server, self.port)[0][-1]
        raw.connect(addr)
        if self.ssl:
            self.sock = self._wrap(raw)
        flags = clean_session << 1
        size = 10 + 2 + len(self.client_id)
        if self.user is not None:
            size += 2 + len(self.user) + 2 + len(self.pswd)
            flags |= 0xC0
        if self.lw_topic:
            size += 2 + len(self.lw_topic) + 2 + len(self.lw_msg)
            flags |= 0x4 | (self.lw_qos & 0x3) << 3 | self.lw_retain << 5
        self._fixed_header(0x10, size)
        self._write(b"\x00\x04MQTT\x04")
        self._write(bytes((flags, self.keepalive >> 8, self.keepalive & 0xFF)))
        self._send_str(self.client_id)
        if self.lw_topic:
            self._send_str(self.lw_topic)
            self._send_str(self.lw_msg)
        if self.user is not None:
            self._send_str(self.user)
            self._send_str(self.pswd)
        resp = self._read(4)
        if resp[0] != _CONNACK or resp[1] != 2:
            raise MQTTException("bad CONNACK")
        if resp[3] != 0:
            raise MQTTException("connection refused, code %d" % resp[3])
        self.last_tx_ms = time.ticks_ms()
        return resp[2] & 1

    def _wrap(self, raw):
        import ssl

        if not self.ca:
            raise MQTTException("tls: no CA provisioned, refusing an unverified broker")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            ctx.load_verify_locations(cadata=der(self.ca))
            return ctx.wrap_socket(raw, server_hostname=self.server)
        except (OSError, ValueError) as err:  # mbedTLS: bad CA, certificate or name mismatch
            raise MQTTException("tls: cannot verify %s: %s" % (self.server, err))

    def disconnect(self):
        try:
            self._write(b"\xe0\x00")
        finally:
            self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:  # already gone; nothing to release
                pass
            self.sock = None
        self._raw = None

    def ping(self):
        import time

        self._write(b"\xc0\x00")
        self.last_tx_ms = time.ticks_ms()

    def payload_buffer(self):
        """Where a caller may build a payload in place before publish_prepared()."""
        return memoryview(self._buf)[_HEAD_ROOM:]

    def publish(self, topic, msg, retain=False, qos=0, dup=False):
        """Publish; with qos=1 return only after the PUBACK (MQTTTimeout if none comes)."""
        if isinstance(msg, str):
            msg = msg.encode()
        if len(msg) > len(self._buf) - _HEAD_ROOM:
            raise ValueError("message larger than the %d-byte packet buffer" % (len(self._buf) - _HEAD_ROOM))
        memoryview(self._buf)[_HEAD_ROOM:_HEAD_ROOM + len(msg)] = msg
        self.publish_prepared(topic, len(msg), retain, qos, dup)

    def publish_prepared(self, topic, msg_len, retain=False, qos=0, dup=False):
        """Publish the msg_len bytes already in payload_buffer().

        The packet is assembled in one buffer and sent with one write: small separate
        writes would each wait on Nagle's algorithm and delayed ACKs.
        """
        import time

        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if isinstance(topic, str):
            topic = topic.encode()
        size = 2 + len(topic) + msg_len + (2 if qos else 0)
        head = 2 + len(topic) + (2 if qos else 0)
        n = size
        hlen = 2
        while n > 0x7F:
            n >>= 7
            hlen += 1
        if hlen + head > _HEAD_ROOM:
            raise ValueError("topic longer than %d bytes" % (_HEAD_ROOM - 9))
        buf = self._buf
        i = _HEAD_ROOM - head - hlen
        start = i
        buf[i] = _PUBLISH | dup << 3 | qos << 1 | retain
        i += 1
        n = size
        while n > 0x7F:
            buf[i] = (n & 0x7F) | 0x80
            n >>= 7
            i += 1
        buf[i] = n
        i += 1
        struct.pack_into("!H", buf, i, len(topic))
        i += 2
        mv = memoryview(buf)
        mv[i:i + len(topic)] = topic
        i += len(topic)
        pid = 0
        if qos:
            pid = self._next_pid()
            struct.pack_into("!H", buf, i, pid)
        self.sock.write(mv[start:_HEAD_ROOM + msg_len])
        self.last_tx_ms = time.ticks_ms()
        if qos:
            self._wait_ack(_PUBACK, pid)

    def subscribe(self, topic, qos=0):
        if self.cb is None:
            raise MQTTException("set a callback before subscribing")
        pid = self._next_pid()
        self._fixed_header(0x82, 2 + 2 + len(topic) + 1)
        self._write(struct.pack("!H", pid))
        self._send_str(topic)
        self._write(bytes((qos,)))
        granted = self._wait_ack(_SUBACK, pid)
        if granted == 0x80:
            raise MQTTException("subscription refused")

    def _wait_ack(self, kind, pid):
        import time

        start = time.ticks_ms()
        self._raw.settimeout(self.timeout_s)
        while time.ticks_diff(time.ticks_ms(), start) < self.timeout_s * 1000:
            try:
                first = self._read(1)
            except OSError as err:
                if err.args and err.args[0] in (110, 116):  # ETIMEDOUT
                    break
                raise
            if self._read_packet(first[0]) == kind:
                rpid, extra = self._ack_body
                if rpid == pid:
                    return extra
        raise MQTTTimeout("no ack for packet %d" % pid)

    def _readinto(self, mv):
        got = 0
        n = len(mv)
        while got < n:
            k = self.sock.readinto(mv[got:])
            if not k:
                raise OSError(-1)
            got += k

    def _discard(self, size):
        mv = memoryview(self._in)
        while size:
            k = min(size, len(mv))
            self._readinto(mv[:k])
            size -= k

    def _read_packet(self, first):
        """Read the rest of a packet whose first byte is `first`; return its type."""
        op = first & 0xF0
        size = self._recv_len()
        if op == _PUBLISH:
            qos = (first >> 1) & 3
            tlen = struct.unpack("!H", self._read(2))[0]
            size -= tlen + 2
            topic = None
            if tlen <= _TOPIC_MAX:
                topic = self._read(tlen) if tlen else b""
            else:
                self._discard(tlen)
            pid = 0
            if qos:
                pid = struct.unpack("!H", self._read(2))[0]
                size -= 2
            if size < 0:
                raise MQTTException("malformed PUBLISH")
            if topic is None or size > self.max_in:
                # Too large for this board: read it away in pieces, never allocate it.
                self._discard(size)
                self.dropped_in += 1
                self.last_dropped = (topic, size)
                print("mqtt: message of %d bytes dropped (too large)" % size)
            else:
                mv = memoryview(self._in)[:size]
                self._readinto(mv)
                if self.cb is not None:
                    self.cb(topic, mv)
            if qos == 1:
                self._write(struct.pack("!BBH", _PUBACK, 2, pid))
            return _PUBLISH
        if size > 4:
            self._discard(size)
            return op
        body = self._read(size) if size else b""
        if op in (_PUBACK, _SUBACK):
            self._ack_body = (body[0] << 8 | body[1], body[2] if len(body) > 2 else 0)
        return op

    def check_msg(self):
        """Handle whatever the broker has sent, without blocking (the raw socket polls non-blocking)."""
        while True:
            self._raw.setblocking(False)
            try:
                first = self.sock.read(1)
            except OSError as err:
                if err.args and err.args[0] == 11:  # EAGAIN: nothing to read
                    first = None
                else:
                    raise
            finally:
                if self._raw is not None:
                    self._raw.settimeout(self.timeout_s)
            if first is None:
                return
            if first == b"":
                raise OSError(-1)
            self._read_packet(first[0])

    def maintain(self):
        """Ping when idle for half the keepalive, so the broker keeps the session."""
        import time

        if self.keepalive and time.ticks_diff(time.ticks_ms(), self.last_tx_ms) > self.keepalive * 500:
            self.ping()
        self.check_msg()
