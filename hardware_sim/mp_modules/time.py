"""Simulated `time`: virtual clock driven by the host (see _simctl)."""

import utime

import _simctl

_PERIOD = 1 << 30
_MASK = _PERIOD - 1

gmtime = utime.gmtime
localtime = utime.localtime
mktime = utime.mktime


def ticks_ms():
    return (_simctl.now_us() // 1000) & _MASK


def ticks_us():
    return _simctl.now_us() & _MASK


def ticks_add(a, b):
    return (a + b) & _MASK


def ticks_diff(a, b):
    return ((a - b + _PERIOD // 2) & _MASK) - _PERIOD // 2


def sleep_ms(ms):
    _simctl.sleep_ms(ms)


def sleep_us(us):
    _simctl.sleep_ms(max(1, us // 1000))


def sleep(s):
    _simctl.sleep_ms(int(s * 1000))


def time():
    """The board's RTC: wrong until set, and it jumps when the host says so."""
    return (_simctl.epoch_ms + _simctl.virt_ms + _simctl.rtc_offset_ms) // 1000


def time_ns():
    return (_simctl.epoch_ms + _simctl.virt_ms + _simctl.rtc_offset_ms) * 1000000
