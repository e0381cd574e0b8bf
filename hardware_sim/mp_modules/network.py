"""Simulated esp32 `network.WLAN`, after ports/esp32/network_wlan.c.

- `connect()` while the station is still connecting raises `OSError('Wifi Internal
  Error')` (MicroPython issue #17661): the driver itself keeps retrying after a
  failure (`reconnects` defaults to 0 = forever), so a station that cannot reach its
  access point is "connecting" until `disconnect()`.
- Status moves in virtual time: STAT_IDLE -> STAT_CONNECTING -> STAT_GOT_IP after 1-3 s
  when the access point is there, or STAT_NO_AP_FOUND (about 2.5 s per scan) /
  STAT_WRONG_PASSWORD (about 3.5 s) and another try.
- When the access point goes away, `isconnected()` stays True until the beacon timeout
  (6 s), then the driver reconnects by itself once it is back.
"""

import _simctl

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_CONNECT_FAIL = 203
_REASON_ASSOC_LEAVE = 8
_BEACON_TIMEOUT_MS = 6000

_hostname = "esp32"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name
    return None


class _Station:
    def __init__(self):
        self._active = False
        self._requested = False
        self._connected = False
        self._reason = 0
        self._ssid = None
        self._key = None
        self._attempt_end = 0
        self._attempt_ok = False
        self._ap_seen = _simctl.ap_up
        self._ap_since = _simctl.virt_ms
        self._lost_at = None
        self.connects = 0  # connect() calls (for tests)
        self.errors = 0  # connect() calls that raised

    def _ap_at(self, t):
        return self._ap_seen if t >= self._ap_since else not self._ap_seen

    def _start_attempt(self, t):
        if self._ap_at(t) and self._ssid == _simctl.wifi_ssid and self._key == _simctl.wifi_key:
            self._attempt_ok = True
            self._attempt_end = t + int(_simctl.uniform(1000, 3000))  # scan, auth, assoc, DHCP
        elif self._ap_at(t) and self._ssid == _simctl.wifi_ssid:
            self._attempt_ok = False
            self._reason = STAT_WRONG_PASSWORD
            self._attempt_end = t + int(_simctl.uniform(3000, 4000))
        else:
            self._attempt_ok = False
            self._attempt_end = t + int(_simctl.uniform(2200, 2800))

    def _update(self):
        now = _simctl.virt_ms
        if _simctl.ap_up != self._ap_seen:
            self._ap_seen = _simctl.ap_up
            self._ap_since = now
            if not self._ap_seen and self._connected:
                self._lost_at = now
        if not self._active:
            return
        if self._connected and self._lost_at is not None and now - self._lost_at >= _BEACON_TIMEOUT_MS:
            self._connected = False
            self._reason = STAT_BEACON_TIMEOUT
            if self._requested:
                self._start_attempt(self._lost_at + _BEACON_TIMEOUT_MS)
        if self._connected and self._ap_seen:
            self._lost_at = None
        while self._requested and not self._connected and self._attempt_end <= now:
            if self._attempt_ok and self._ap_at(self._attempt_end):
                self._connected = True
                self._reason = 0
                self._lost_at = None
            else:
                if not self._ap_at(self._attempt_end) or self._ssid != _simctl.wifi_ssid:
                    self._reason = STAT_NO_AP_FOUND
                self._start_attempt(self._attempt_end)

    def active(self, on=None):
        self._update()
        if on is None:
            return self._active
        self._active = bool(on)
        if not self._active:
            self._requested = False
            self._connected = False
        _simctl.radio = 1 if (self._active or _ap._active) else 0
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        self._update()
        self.connects += 1
        if not self._active:
            self.errors += 1
            raise OSError("Wifi Not Started")
        if self._requested and not self._connected:
            self.errors += 1
            raise OSError("Wifi Internal Error")
        if ssid is not None:
            self._ssid = ssid
        if key is not None:
            self._key = key
        self._connected = False
        self._requested = True
        self._reason = 0
        self._start_attempt(_simctl.virt_ms)

    def disconnect(self):
        self._update()
        self._requested = False
        self._connected = False
        self._reason = _REASON_ASSOC_LEAVE

    def isconnected(self):
        self._update()
        return self._connected

    def link_ok(self):
        """True while packets get through (connected and the access point really there)."""
        self._update()
        return self._connected and self._ap_seen

    def status(self, param=None):
        self._update()
        if param == "rssi":
            if not self._connected:
                raise OSError("Wifi Not Connected")
            return -67
        if param is not None:
            raise ValueError("unknown status param")
        if self._connected:
            return STAT_GOT_IP
        if self._reason in (STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD):
            return self._reason
        if self._reason == _REASON_ASSOC_LEAVE:
            return STAT_IDLE
        if self._requested:
            return STAT_CONNECTING
        return STAT_IDLE if self._reason == 0 else self._reason

    def ifconfig(self, *args):
        return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1")

    def ipconfig(self, *args, **kw):
        return None

    def config(self, *args, **kw):
        if args:
            if args[0] == "mac":
                return b"\x24\x0a\xc4\x00\x00\x01"
            if args[0] == "ssid":
                return self._ssid
            raise ValueError("unknown config param")
        return None

    def scan(self):
        self._update()
        if not self._active:
            raise OSError("STA must be active")
        _simctl.busy(2500, "cpu")
        return [(_simctl.wifi_ssid.encode(), b"\x00\x11\x22\x33\x44\x55", 6, -67, 3, False)] if _simctl.ap_up else []


class _AccessPoint:
    def __init__(self):
        self._active = False
        self.essid = None
        self.password = None

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        _simctl.radio = 1 if (self._active or _sta._active) else 0
        return None

    def config(self, *args, **kw):
        if "essid" in kw or "ssid" in kw:
            self.essid = kw.get("essid", kw.get("ssid"))
        if "key" in kw or "password" in kw:
            self.password = kw.get("key", kw.get("password"))
        if args:
            return {"essid": self.essid, "ssid": self.essid, "mac": b"\x24\x0a\xc4\x00\x00\x02"}.get(args[0])
        return None

    def ifconfig(self, *args):
        return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def isconnected(self):
        return False

    def status(self, param=None):
        return None


_sta = _Station()
_ap = _AccessPoint()


def WLAN(interface=STA_IF):  # noqa: N802  (the port's constructor returns singletons)
    return _ap if interface == AP_IF else _sta
