"""Hardware layer: pulse counter, clock, Wi-Fi, RTC memory and watchdog behind small objects.

Only this module touches `machine`, `network` and `time`, so the simulator
(hardware_sim/mp_modules) can supply its own versions of those modules and run the
rest of the firmware unchanged.
"""

import time

import machine
from micropython import const

# time.time() counts from 2000-01-01 on some ports and from 1970 on others.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0
_PCNT_SPAN = const(65536)


class PulseCounter:
    """Counts meter pulses: hardware counter for clean (hall) edges, debounced Pin.irq for reeds.

    The ESP32 pulse counter's glitch filter stops at 1023 APB cycles (12.8 us), far below
    a reed contact's bounce (0.1-2 ms), so reed switches are counted in an interrupt
    handler that ignores edges closer than `debounce_ms` to the previous edge.
    """

    def __init__(self, pin_no, sensor="reed", edge="falling", pull="up", debounce_ms=5):
        pulls = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN, "none": None}
        self._pin = machine.Pin(pin_no, machine.Pin.IN, pulls[pull])
        self._active = 0 if edge == "falling" else 1
        self._debounce_us = debounce_ms * 1000
        self._count = 0
        self._last_edge_us = time.ticks_add(time.ticks_us(), -self._debounce_us)
        self._hw = None
        self._hw_last = 0
        self.mode = "irq"
        if sensor == "hall":
            try:
                ctr_edge = machine.Counter.FALLING if edge == "falling" else machine.Counter.RISING
                self._hw = machine.Counter(0, self._pin, edge=ctr_edge, filter_ns=12000)
                self._hw_last = self._hw.value()
                self.mode = "pcnt"
            except (AttributeError, TypeError, ValueError):  # no machine.Counter on this port
                self._hw = None
        if self._hw is None:
            trigger = machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING
            try:
                self._pin.irq(handler=self._on_edge, trigger=trigger, hard=True)
            except TypeError:  # port without hard IRQs: soft IRQs queue 8 edges at most
                self._pin.irq(handler=self._on_edge, trigger=trigger)

    def _on_edge(self, pin):
        # Interrupt context: no allocation (small ints only), no exceptions.
        # Both edges arrive; a pulse is an edge into the active level after a quiet line.
        t = time.ticks_us()
        quiet = time.ticks_diff(t, self._last_edge_us) >= self._debounce_us
        self._last_edge_us = t
        if quiet and pin.value() == self._active:
            self._count += 1

    def take(self):
        """Pulses counted since the last call; call at least every 60 s (counter and tick wrap)."""
        if self._hw is not None:
            now = self._hw.value()
            # Difference modulo 2**16: right while fewer than 32768 pulses arrive between calls.
            n = (now - self._hw_last) % _PCNT_SPAN
            self._hw_last = now
            return n
        now = time.ticks_us()
        state = machine.disable_irq()
        n = self._count
        self._count = 0
        # ticks_us wraps every 2**30 us (18 min): keep the last edge within reach of ticks_diff.
        if time.ticks_diff(now, self._last_edge_us) > self._debounce_us:
            self._last_edge_us = time.ticks_add(now, -self._debounce_us)
        machine.enable_irq(state)
        return n


class Clock:
    """Monotonic milliseconds since boot that never wrap, and sleeping."""

    def __init__(self):
        self._last = time.ticks_ms()
        self._mono_ms = 0

    def mono_ms(self):
        """Milliseconds since boot; must be called at least every 6 days (ticks_ms wraps)."""
        now = time.ticks_ms()
        self._mono_ms += time.ticks_diff(now, self._last)
        self._last = now
        return self._mono_ms

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def ntp_unix_s(self, host):
        """Unix seconds from an NTP server, or None; the board's RTC is not touched."""
        try:
            import ntptime

            ntptime.host = host
            return ntptime.time() + _EPOCH_OFFSET_S
        except (OSError, ImportError, OverflowError):  # no network, no answer, or no ntptime on this port
            return None


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


class RtcMemory:
    """The RTC's user memory: kept across watchdog and soft resets, lost on power loss."""

    def __init__(self):
        self._rtc = machine.RTC()

    def read(self):
        return bytes(self._rtc.memory())

    def write(self, data):
        self._rtc.memory(data)


class Watchdog:
    """machine.WDT; once started it cannot be stopped, so the main loop must feed it."""

    def __init__(self, timeout_s):
        self._wdt = machine.WDT(timeout=int(timeout_s * 1000))

    def feed(self):
        self._wdt.feed()


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
    """Free heap bytes after a collection."""
    import gc

    gc.collect()
    return gc.mem_free()
