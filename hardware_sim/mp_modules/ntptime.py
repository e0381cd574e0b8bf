"""Simulated `ntptime`, with the answers a real NTP path can give.

Modes (host-set): ok (the true time), down (no answer: OSError after the 1 s socket
timeout), bogus (a server answering 0, which ntptime's era arithmetic turns into
2036-02-07) and short (a truncated reply: ntptime's struct.unpack raises ValueError).
"""

import struct

import _simctl

host = "pool.ntp.org"
timeout = 1
NTP_DELTA = 2208988800  # 1900-01-01 to 1970-01-01: the unix port's epoch


def _reply():
    import socket

    socket.getaddrinfo(host, 123)  # the look-up (and its stall) happens whatever the answer
    if not _simctl.wifi_up or _simctl.ntp_mode == "down":
        _simctl.busy(timeout * 1000, "wait")
        raise OSError(110)  # ETIMEDOUT: no answer
    _simctl.busy(int(_simctl.uniform(20, 120)), "wait")
    msg = bytearray(48)
    if _simctl.ntp_mode == "short":
        return bytes(msg[:40])
    if _simctl.ntp_mode == "bogus":
        return bytes(msg)  # transmit timestamp 0
    struct.pack_into("!I", msg, 40, (_simctl.epoch_ms + _simctl.virt_ms) // 1000 + NTP_DELTA)
    return bytes(msg)


def time():
    """Seconds since the port's epoch (1970 on the unix port), as the real ntptime.time()."""
    msg = _reply()
    val = struct.unpack("!I", msg[40:44])[0]
    min_ntp_timestamp = 3913056000  # 2024-01-01, as micropython-lib's ntptime
    if val < min_ntp_timestamp:
        val += 0x100000000
    return val - NTP_DELTA


def settime():
    t = time()
    _simctl.rtc_offset_ms = t * 1000 - _simctl.epoch_ms - _simctl.virt_ms
