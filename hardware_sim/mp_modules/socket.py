"""Simulated esp32 `socket`: real host sockets, behind the board's Wi-Fi and with ESP32 timing.

A socket is an `io.IOBase` stream, so the port's real `ssl` can wrap it. Every call
first asks the simulated Wi-Fi whether packets get through; when they do not, the call
blocks for its timeout in virtual time (`_simctl.busy`) and fails as lwIP would.
Look-ups and connects cost virtual time during which pin interrupts queue up.
"""

import io
import os

import usocket
from usocket import *  # noqa: F401,F403  (AF_INET, SOCK_STREAM, ...)

import _simctl

_AP_PORT = int(os.getenv("WM_SIM_AP_PORT") or "0")  # where the board's port 80 is, in AP mode


def _link_ok():
    import network

    return network.WLAN(network.STA_IF).link_ok()


def _ap_active():
    import network

    return network.WLAN(network.AP_IF).active()


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    if not _link_ok():
        _simctl.busy(5000, "dns")  # lwIP gives up after its DNS retries
        raise OSError(-202)  # EAI_FAIL as the esp32 port reports it
    if host not in ("127.0.0.1", "localhost", "0.0.0.0") and not host[0].isdigit():
        _simctl.busy(int(_simctl.uniform(20, 250)), "dns")
        host = "127.0.0.1"  # every server of the simulated world is on this host
    return usocket.getaddrinfo(host, port, af, type, proto, flags)


class socket(io.IOBase):
    """usocket.socket behind the simulated link; a stream the port's ssl can wrap."""

    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _accepted=None):
        self._s = _accepted if _accepted is not None else usocket.socket(af, type, proto)
        self._timeout_s = None
        self._awaiting = False  # a request was written: the next read waits one round trip
        self._server = _accepted is not None  # a connection a client made to the board's access point

    def _dead(self, op):
        wait_s = 120 if self._timeout_s is None else self._timeout_s
        if wait_s:
            _simctl.busy(int(wait_s * 1000), "wait")
        raise OSError(113 if op == "connect" else 110)  # EHOSTUNREACH / ETIMEDOUT

    def connect(self, addr):
        if not _link_ok():
            self._dead("connect")
        _simctl.busy(int(_simctl.uniform(8, 60)), "connect")
        return self._s.connect(addr)

    def _wait_reply(self):
        if not self._server and not _link_ok():
            self._dead("read")
        if self._awaiting and self._timeout_s != 0:
            self._awaiting = False
            _simctl.busy(int(_simctl.uniform(12, 60)), "wait")  # Wi-Fi round trip to the broker

    def write(self, data):
        if not self._server and not _link_ok():
            self._dead("write")
        self._awaiting = True
        return self._s.write(data)

    def send(self, data):
        return self.write(data)

    def sendall(self, data):
        self.write(data)

    def read(self, n=-1):
        self._wait_reply()
        return self._s.read(n) if n >= 0 else self._s.read()

    def recv(self, n):
        self._wait_reply()
        return self._s.recv(n)

    def readinto(self, buf, n=-1):
        self._wait_reply()
        return self._s.readinto(buf) if n < 0 else self._s.readinto(buf, n)

    def readline(self):
        self._wait_reply()
        return self._s.readline()

    def ioctl(self, req, arg):
        return 0

    def settimeout(self, t):
        self._timeout_s = t
        self._s.settimeout(t)

    def setblocking(self, flag):
        self._timeout_s = None if flag else 0
        self._s.setblocking(flag)

    def setsockopt(self, *args):
        try:
            self._s.setsockopt(*args)
        except OSError:  # options the host refuses change nothing here
            pass

    def bind(self, addr):
        host, port = addr[0], addr[1]
        if port == 80 and _AP_PORT:
            if not _ap_active():
                raise OSError(99)  # EADDRNOTAVAIL: no access point interface up
            port = _AP_PORT
            self._server = True
        self._s.setsockopt(usocket.SOL_SOCKET, usocket.SO_REUSEADDR, 1)
        return self._s.bind(usocket.getaddrinfo("127.0.0.1", port)[0][-1])

    def listen(self, n=1):
        return self._s.listen(n)

    def accept(self):
        conn, addr = self._s.accept()
        return socket(_accepted=conn), addr

    def sendto(self, data, addr):
        if not _link_ok():
            self._dead("write")
        return self._s.sendto(data, addr)

    def makefile(self, mode="rb", buffering=0):
        return self

    def close(self):
        self._s.close()
