"""Hardware layer: clock, Wi-Fi, RTC memory, watchdog and reset cause behind small objects.

Only this module and counter.py touch `machine`, `network` and `time`, so the simulator
(hardware_sim/mp_modules) can supply its own versions of those modules and run the
rest of the firmware unchanged.
"""

import time

import machine
from micropython import const

# time.time() counts from 2000-01-01 on some ports and from 1970 on others.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0
_RESET_STATE_REG = const(0x3FF48034)  # ESP32 RTC_CNTL_RESET_STATE_REG; bits 0-5: reset reason, CPU 0
_BROWN_OUT = const(15)  # RTCWDT_BRWON_OUT_RESET in the ROM's reset reasons
_STAT_IDLE = const(1000)
# The esp32 driver keeps retrying by itself (reconnects=0): a station that has not connected after
# 5 minutes is disconnected and started again, in case it is stuck in a state it does not leave.
_GIVE_UP_MS = const(300000)


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

    def set_rtc(self, unix_s):
        """Set the chip's RTC wall clock: it keeps running through watchdog resets and deep sleep."""
        t = time.gmtime(unix_s - _EPOCH_OFFSET_S)
        try:
            machine.RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))
        except (AttributeError, OSError, ValueError):  # a port without a settable RTC
            pass

    def rtc_unix_s(self):
        """The RTC's wall clock in unix seconds (right only if set since the last power loss)."""
        return time.time() + _EPOCH_OFFSET_S

    def ntp_unix_s(self, host):
        """Unix seconds from an NTP server, or None (no answer, or an answer that cannot be parsed)."""
        try:
            import ntptime

            ntptime.host = host
            return ntptime.time() + _EPOCH_OFFSET_S
        except (OSError, ImportError, OverflowError, ValueError, IndexError):
            # no network or no answer; a truncated reply makes ntptime's struct.unpack raise ValueError
            return None


class WiFi:
    """Station-mode Wi-Fi the way mqtt_as drives it: connect once, poll, disconnect before retrying.

    On ESP32, `connect()` while the station is still connecting raises OSError('Wifi Internal
    Error'), and the driver reconnects by itself after a link loss. So `connect()` is called
    once; while it has not succeeded after 5 minutes the station is disconnected and the
    next attempt comes after a back-off; every call is inside `try`.
    """

    def __init__(self, ssid, password, clock):
        import network

        self._ssid = ssid
        self._password = password
        self._clock = clock
        self._wlan = network.WLAN(network.STA_IF)
        self._started_ms = None
        self._next_ms = 0
        self._backoff_ms = 5000
        self.status = 0

    def ensure(self):
        """Keep the station connecting; True when connected. Never raises."""
        try:
            if self._wlan.isconnected():
                self._started_ms = None
                self._backoff_ms = 5000
                return True
            now = self._clock.mono_ms()
            self.status = self._wlan.status()
            if self._started_ms is None:
                if now < self._next_ms:
                    return False
                if not self._wlan.active():
                    self._wlan.active(True)
                if self.status != _STAT_IDLE:  # still trying from before: stop that first
                    self._wlan.disconnect()
                self._wlan.connect(self._ssid, self._password)
                self._started_ms = now
                print("wifi: connecting to", self._ssid)
            elif now - self._started_ms > _GIVE_UP_MS:
                print("wifi: no connection after %d s (status %d); retrying later"
                      % ((now - self._started_ms) // 1000, self.status))
                self._wlan.disconnect()
                self._started_ms = None
                self._next_ms = now + self._backoff_ms
                self._backoff_ms = min(self._backoff_ms * 2, 300000)
        except OSError as err:  # Wifi Internal Error and friends: try again later, never crash
            print("wifi: error", err)
            self._started_ms = None
            self._next_ms = self._clock.mono_ms() + self._backoff_ms
        return False

    def connected(self):
        try:
            return self._wlan.isconnected()
        except OSError:  # driver trouble reads as not connected
            return False

    def rssi_dbm(self):
        try:
            return self._wlan.status("rssi")
        except (OSError, ValueError):  # not connected
            return None

    def off(self):
        try:
            self._wlan.disconnect()
            self._wlan.active(False)
        except OSError:  # already off
            pass


class RtcMemory:
    """The RTC's user memory: kept across watchdog and soft resets and deep sleep, lost on power loss."""

    def __init__(self):
        self._rtc = machine.RTC()

    def read(self):
        return self._rtc.memory()

    def write(self, data):
        self._rtc.memory(data)


class Watchdog:
    """machine.WDT; once started it cannot be stopped, so the main loop must feed it."""

    def __init__(self, timeout_s):
        self._wdt = machine.WDT(timeout=int(timeout_s * 1000))

    def feed(self):
        self._wdt.feed()


def reset_cause():
    """The reason for the last reset, as a protocol word.

    The esp32 port maps a brown-out to PWRON_RESET; the chip's own reset-reason register
    (RTC_CNTL_RESET_STATE_REG on the ESP32) tells the two apart.
    """
    names = {
        getattr(machine, "PWRON_RESET", -1): "power_on",
        getattr(machine, "HARD_RESET", -2): "hard",
        getattr(machine, "WDT_RESET", -3): "watchdog",
        getattr(machine, "DEEPSLEEP_RESET", -4): "deepsleep",
        getattr(machine, "SOFT_RESET", -5): "soft",
    }
    try:
        cause = names.get(machine.reset_cause(), "unknown")
    except AttributeError:
        return "unknown"
    if cause == "power_on":
        try:
            if machine.mem32[_RESET_STATE_REG] & 0x3F == _BROWN_OUT:
                return "brownout"
        except (ValueError, OSError, AttributeError):  # not an ESP32 (another register map)
            pass
    return cause


def mem_free():
    """Free heap bytes after a collection."""
    import gc

    gc.collect()
    return gc.mem_free()
