"""Hardware layer: pulse counter, clock, Wi-Fi and flash storage behind small objects.

Only this module touches `machine`, `network`, `time` and the filesystem, so the
simulator (hardware_sim/mp_modules) can supply its own versions of those modules
and run the rest of the firmware unchanged.
"""

import time

import machine

# time.time() counts from 2000-01-01 on some ports and from 1970 on others.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


class PulseCounter:
    """Counts meter pulses with the hardware counter, or with Pin.irq where there is none."""

    def __init__(self, pin_no, pull_up=True):
        pull = machine.Pin.PULL_UP if pull_up else None
        self._pin = machine.Pin(pin_no, machine.Pin.IN, pull)
        self._irq_count = 0
        try:
            self._hw = machine.Counter(0, self._pin, edge=machine.Counter.FALLING, filter_ns=12000)
        except (AttributeError, TypeError, ValueError):
            self._hw = None
            # Soft IRQ: the handler only increments an int (no allocation).
            self._pin.irq(trigger=machine.Pin.IRQ_FALLING, handler=self._on_edge)

    def _on_edge(self, _pin):
        self._irq_count += 1

    def take(self):
        """Pulses counted since the last call."""
        if self._hw is not None:
            return self._hw.value(0)
        state = machine.disable_irq()
        n = self._irq_count
        self._irq_count = 0
        machine.enable_irq(state)
        return n


class Clock:
    """Monotonic ticks, sleeping, and Unix time."""

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def unix_s(self):
        """Seconds since 1970-01-01 UTC (correct only once the clock is synced)."""
        return time.time() + _EPOCH_OFFSET_S

    def sync(self, host):
        """Set the clock by NTP; True on success."""
        try:
            import ntptime

            ntptime.host = host
            ntptime.settime()
            return True
        except (OSError, ImportError):  # no network yet, or no ntptime on this port
            return False


class WiFi:
    """Station-mode Wi-Fi."""

    def __init__(self, ssid, password):
        import network

        self._ssid = ssid
        self._password = password
        self._wlan = network.WLAN(network.STA_IF)

    def connect(self):
        """Start connecting (non-blocking); True when already connected."""
        if self._wlan.isconnected():
            return True
        self._wlan.active(True)
        self._wlan.connect(self._ssid, self._password)
        return False

    def connected(self):
        return self._wlan.isconnected()

    def rssi_dbm(self):
        try:
            return self._wlan.status("rssi")
        except (OSError, ValueError):  # not connected
            return None


class Storage:
    """Small JSON documents in flash, replaced atomically (write temp file, rename)."""

    def __init__(self, root=""):
        self._root = root

    def _path(self, name):
        return self._root + name

    def load(self, name, default=None):
        import json

        try:
            with open(self._path(name)) as f:
                return json.load(f)
        except (OSError, ValueError):  # missing, or torn by a power cut before rename
            return default

    def save(self, name, doc):
        import json
        import os

        tmp = self._path(name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self._path(name))


def reset_cause():
    """The reason for the last reset, as a protocol word."""
    names = {
        getattr(machine, "PWRON_RESET", -1): "power_on",
        getattr(machine, "HARD_RESET", -2): "hard",
        getattr(machine, "WDT_RESET", -3): "watchdog",
        getattr(machine, "DEEPSLEEP_RESET", -4): "deepsleep",
        getattr(machine, "SOFT_RESET", -5): "soft",
    }
    try:
        return names.get(machine.reset_cause(), "unknown")
    except AttributeError:
        return "unknown"


def mem_free():
    import gc

    gc.collect()
    return gc.mem_free()
