"""Simulated `socket`: real sockets that fail while the host has the board's Wi-Fi down."""

import usocket
from usocket import *  # noqa: F401,F403  (getaddrinfo, constants)

import _simctl


def _link():
    if not _simctl.wifi_up:
        raise OSError(113)  # EHOSTUNREACH: the access point is gone


class socket:
    """usocket.socket whose every operation first checks the simulated Wi-Fi link."""

    def __init__(self, *args):
        _link()
        self._s = usocket.socket(*args)

    def connect(self, addr):
        _link()
        return self._s.connect(addr)

    def write(self, data):
        _link()
        return self._s.write(data)

    def read(self, n):
        _link()
        return self._s.read(n)

    def readinto(self, buf, n=-1):
        _link()
        return self._s.readinto(buf) if n < 0 else self._s.readinto(buf, n)

    def settimeout(self, t):
        self._s.settimeout(t)

    def setblocking(self, flag):
        self._s.setblocking(flag)

    def close(self):
        self._s.close()
