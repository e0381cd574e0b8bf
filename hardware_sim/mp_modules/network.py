"""Simulated `network`: a station interface whose link the host switches on and off."""

import _simctl

STA_IF = 0
AP_IF = 1
STAT_GOT_IP = 1010


class WLAN:
    def __init__(self, interface=STA_IF):
        self._active = False
        self._connecting = False

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def connect(self, ssid=None, key=None):
        self._connecting = True

    def disconnect(self):
        self._connecting = False

    def isconnected(self):
        return self._active and self._connecting and _simctl.wifi_up

    def status(self, param=None):
        if param == "rssi":
            if not self.isconnected():
                raise OSError("not connected")
            return -61
        return STAT_GOT_IP if self.isconnected() else 0

    def ifconfig(self, *args):
        return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1")
