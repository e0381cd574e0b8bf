"""Simulated ESP32 `machine`: Pin, Counter, RTC, WDT, reset cause, on top of the unix port's."""

from umachine import *  # noqa: F401,F403  (mem8/mem16/mem32, PinBase, time_pulse_us)

import _simctl

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_reset_cause = PWRON_RESET
_counters = []
_irq_pins = []


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id, mode=-1, pull=None, value=None):
        self.id = id
        self._handler = None
        self._value = 1

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v

    def irq(self, handler=None, trigger=IRQ_FALLING):
        self._handler = handler
        if self not in _irq_pins:
            _irq_pins.append(self)


class Counter:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = -1

    def __init__(self, id, src=None, edge=RISING, filter_ns=0, direction=UP):
        self.id = id
        self._value = 0
        _counters.append(self)

    def value(self, v=None):
        old = self._value
        if v is not None:
            self._value = v
        return old


def _deliver_pulses():
    n = _simctl.take_pulses()
    if not n:
        return
    if _counters:
        c = _counters[0]
        # 16-bit signed hardware register: wraps like the real PCNT.
        c._value = ((c._value + n + 32768) & 0xFFFF) - 32768
    else:
        for pin in _irq_pins:
            for _ in range(n):
                pin._handler(pin)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def reset_cause():
    return _reset_cause


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 240000000


def reset():
    raise SystemExit(3)


def idle():
    pass


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        pass


class RTC:
    _memory = b""

    def memory(self, data=None):
        if data is None:
            return RTC._memory
        RTC._memory = bytes(data)
