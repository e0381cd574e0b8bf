"""Simulated ESP32 `machine`: Pin, Counter, RTC, WDT, reset cause, on top of the unix port's."""

from umachine import *  # noqa: F401,F403  (mem8/mem16/mem32, PinBase, time_pulse_us)

import _simctl

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_counters = []
_irq_pins = []
_wdts = []
_BOUNCE_GAP_US = 150  # a reed contact chatters every ~0.1-0.2 ms for a few cycles
_PULSE_WIDTH_US = 50000


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
        self._trigger = 0
        self._value = 1

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v

    def irq(self, handler=None, trigger=IRQ_FALLING, hard=False):
        self._handler = handler
        self._trigger = trigger
        if self not in _irq_pins:
            _irq_pins.append(self)

    def _edge(self, t_us, level):
        self._value = level
        want = Pin.IRQ_FALLING if level == 0 else Pin.IRQ_RISING
        if self._handler is not None and self._trigger & want:
            _simctl.edge_us = t_us
            self._handler(self)
            _simctl.edge_us = None


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
    b = _simctl.bounce_edges
    if _counters:
        c = _counters[0]
        # 16-bit signed hardware register: wraps like the real PCNT; its 12.8 us filter lets bounce through.
        c._value = ((c._value + n * (1 + b) + 32768) & 0xFFFF) - 32768
        return
    # Spread the pulses over the window that just passed; each is a closing edge
    # (chattering b times) and, a pulse width later, an opening edge (chattering too).
    t0 = _simctl.window_start_ms * 1000
    span = max(_simctl.virt_ms * 1000 - t0, n)
    gap = span // n
    width = min(gap // 2, _PULSE_WIDTH_US)
    for pin in _irq_pins:
        for k in range(n):
            t = t0 + k * gap
            pin._edge(t, 0)
            for j in range(b):
                pin._edge(t + (2 * j + 1) * _BOUNCE_GAP_US, 1)
                pin._edge(t + (2 * j + 2) * _BOUNCE_GAP_US, 0)
            t += width
            pin._edge(t, 1)
            for j in range(b):
                pin._edge(t + (2 * j + 1) * _BOUNCE_GAP_US, 0)
                pin._edge(t + (2 * j + 2) * _BOUNCE_GAP_US, 1)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def reset_cause():
    return _simctl.reset_cause


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 240000000


def reset():
    _simctl.reset("hard")


def idle():
    pass


class WDT:
    """Resets the board when virtual time passes `timeout` ms without a feed."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self._fed_ms = _simctl.virt_ms
        _wdts.append(self)

    def feed(self):
        self._fed_ms = _simctl.virt_ms


def _check_wdt():
    for w in _wdts:
        if _simctl.virt_ms - w._fed_ms > w.timeout:
            _simctl.reset("wdt")


class RTC:
    """RTC user memory in a host file: the host keeps it across a watchdog reset, deletes it on power loss."""

    def memory(self, data=None):
        path = _simctl.rtc_path
        if data is None:
            if not path:
                return b""
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError:
                return b""
        if len(data) > 2048:
            raise ValueError("RTC user memory is 2048 bytes")
        if path:
            import os

            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)
