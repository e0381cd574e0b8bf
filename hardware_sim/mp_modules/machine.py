"""Simulated ESP32 `machine`, as unkind as the real port (MicroPython esp32, v1.2x).

- `Pin.irq(handler, trigger)` has no `hard=` (TypeError, as on ESP32): handlers are
  scheduled, run late, and see `pin.value()` at the time they run. The schedule queue
  holds 8 callbacks; more are dropped silently. While the firmware is blocked in C
  (`_simctl.busy`), handlers wait until it returns: during a flash erase/write the GPIO
  interrupt itself is held (cache disabled), so all edges of that time collapse into one.
- The meter line: each pulse is a closing and, later, an opening; a reed contact
  chatters on both (bounce), a hall sensor does not.
- `Counter` (the PCNT, MicroPython >= 1.26 only) counts edges in hardware with a glitch
  filter of at most 12.8 us, whatever the CPU is doing.
- `reset_cause()` maps brown-out to PWRON_RESET, as the port does; the RTC reset-reason
  register (mem32[0x3FF48034]) tells them apart.
"""

from umachine import *  # noqa: F401,F403  (mem8/mem16, PinBase, time_pulse_us)

import _simctl

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = EXT0_WAKE = 2
TIMER_WAKE = 4
ULP_WAKE = 6

_SCHED_DEPTH = 8  # MICROPY_SCHEDULER_DEPTH on the esp32 port
_FILTER_MAX_NS = 12800  # PCNT glitch filter: 1023 APB cycles at 80 MHz
_RESET_STATE_REG = 0x3FF48034  # RTC_CNTL_RESET_STATE_REG, RESET_CAUSE_PROCPU in bits 0-5
RTC_SLOW_MEM = 0x50000000  # 8 KiB shared with the ULP

_wdts = []
_irq_pins = []
_counters = []
_timers = []
_now_us = None  # while a scheduled callback runs: its virtual time

# The meter line: future transitions (t_us, level), the level now, pulse timing estimate.
_line = []  # future transitions as small ints t_us * 2 + level (no tuple per entry: this heap is small)
_level = 1
_gap_us = 60000000
_free_us = 0
_runq = []  # start times (us) of callbacks accepted but not started yet
_last_start_us = 0
dropped_callbacks = 0  # schedule-queue overflows (for tests)


def _idle_level():
    return 1


def _active_level():
    return 0


_acc_n = 0
_acc_us = 0


def _pulse_transitions(t0, t1, n):
    """Add n pulses whose closings fall in [t0, t1) to the line, with bounce for a reed.

    A pulse stays closed for about a third of the time between pulses (from the recent
    pulse rate), 20 ms to 2 s; a closing never comes before the previous opening.
    """
    global _gap_us, _free_us, _acc_n, _acc_us
    span = t1 - t0
    _acc_n += n
    _acc_us += span
    if _acc_us >= 2000000:
        _gap_us = _acc_us // _acc_n if _acc_n else max(_gap_us, _acc_us)
        _acc_n = 0
        _acc_us = 0
    if not n:
        return
    gap = min(span // n if n >= 2 else _gap_us, _gap_us)
    width = min(max(gap * 35 // 100, 20000), 2000000)
    if _free_us > t1 + 2000000:  # behind the household: catch up with short pulses
        width = 20000
    step = span // n
    for k in range(n):
        close = t0 + k * step + (_simctl.rand() % max(1, step // 4))
        close = max(close, _free_us)
        opening = close + width
        _free_us = opening + max(20000, width // 5)
        _add_edge(close, _active_level())
        _add_edge(opening, _idle_level())


def _add_edge(t, level):
    chatter = 0
    if _simctl.sensor == "reed":
        chatter = 1 + _simctl.rand() % 3 + _simctl.bounce_edges
    _line.append(t * 2 + level)
    for j in range(chatter):
        t += int(_simctl.uniform(20, 300))
        _line.append(t * 2 + 1 - level)
        t += int(_simctl.uniform(20, 300))
        _line.append(t * 2 + level)


def _level_at(t_us):
    """The line's level at t_us (transitions before t_us already applied to _level)."""
    lv = _level
    for v in _line:
        if v >> 1 > t_us:
            break
        lv = v & 1
    return lv


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=None, value=None):
        self.id = id
        self._handler = None
        self._trigger = 0
        self._out = 1 if value is None else value

    def value(self, v=None):
        if v is not None:
            self._out = v
            return None
        if self.id != _simctl.counter_pin:
            return _simctl.buttons.get(self.id, 1)  # pulled up, not pressed
        t = _now_us if _now_us is not None else _simctl.virt_ms * 1000
        return _level_at(t)

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, wake=None):
        self._handler = handler
        self._trigger = trigger if handler is not None else 0
        if self not in _irq_pins:
            _irq_pins.append(self)
        return self


class Signal:
    def __init__(self, pin, invert=False):
        self._pin = pin
        self._invert = invert

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value(v ^ self._invert)
        return None


def _pcnt_available():
    return _simctl.mp_version >= (1, 26)


class _CounterType:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = -1

    def __init__(self, id, src=None, *, edge=1, filter_ns=0, direction=1):
        self.id = id
        self._edge = edge
        self._filter_us = min(filter_ns, _FILTER_MAX_NS) / 1000
        self._count = 0
        self._last_level = _level
        if self not in _counters:
            _counters.append(self)

    def init(self, src=None, **kw):
        self.__init__(self.id, src, **kw)

    def value(self, v=None):
        old = self._count
        if v is not None:
            self._count = v
        return old

    def deinit(self):
        if self in _counters:
            _counters.remove(self)

    def _transition(self, t, level, next_t):
        # The glitch filter drops a level that does not last filter_ns.
        if next_t is not None and next_t - t < self._filter_us:
            return
        if level == self._last_level:
            return
        self._last_level = level
        if (level == 0 and self._edge == 2) or (level == 1 and self._edge == 1):
            self._count += 1


def __getattr__(name):
    # machine.Counter appeared in MicroPython 1.26: older firmware has no such name.
    if name == "Counter" and _pcnt_available():
        return _CounterType
    raise AttributeError(name)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=0, **kw):
        self._cb = None
        self._due_us = None
        self._period_us = 0
        self._mode = 0
        if kw:
            self.init(**kw)

    def init(self, mode=ONE_SHOT, period=-1, callback=None, freq=-1):
        self._cb = callback
        self._mode = mode
        self._period_us = int(period) * 1000
        now = _now_us if _now_us is not None else _simctl.virt_ms * 1000
        self._due_us = now + self._period_us
        if self not in _timers:
            _timers.append(self)

    def deinit(self):
        self._due_us = None
        if self in _timers:
            _timers.remove(self)


def _latency_us():
    # Soft-IRQ latency of an idle esp32 VM, with an occasional garbage collection in the way.
    if _simctl.rand() % 100 == 0:
        return int(_simctl.uniform(2000, 12000))
    return int(_simctl.uniform(40, 400))


def _schedule(t_req, kind, t0, t1):
    """Start time of a callback requested at t_req, or None when the queue is full (dropped)."""
    global _last_start_us, dropped_callbacks
    while _runq and _runq[0] <= t_req:
        _runq.pop(0)
    if len(_runq) >= _SCHED_DEPTH:
        dropped_callbacks += 1
        return None
    if kind == "idle":
        start = t_req + _latency_us()
    elif kind == "wait":  # a socket read polls the scheduler every 100 ms
        start = t0 + ((t_req - t0) // 100000 + 1) * 100000
        start = min(start, t1) + 20
    else:  # blocked in C until the window ends
        start = t1 + 20
    start = max(start, _last_start_us + int(_simctl.uniform(60, 150)))
    _last_start_us = start
    _runq.append(start)
    return start


def _run(start, fn, arg):
    global _now_us
    _now_us = start
    try:
        fn(arg)
    except Exception as err:  # an exception in a callback is printed; the main loop goes on
        print("sim: uncaught exception in callback:", repr(err))
    finally:
        _now_us = None


_esp32_mod = None


def _esp32():
    global _esp32_mod
    if _esp32_mod is None:
        import esp32

        _esp32_mod = esp32
    return _esp32_mod


def _next_timer(t1):
    due = None
    for tm in _timers:
        if tm._due_us is not None and tm._due_us < t1 and (due is None or tm._due_us < due._due_us):
            due = tm
    return due


def _window(t0_ms, t1_ms, pulses, kind):
    """Everything the hardware did between two exchanges: line, counters, callbacks, timers, in time order."""
    global _level
    t0 = t0_ms * 1000
    t1 = t1_ms * 1000
    _pulse_transitions(t0, t1, pulses)
    _line.sort()
    calls = []  # [start, seq, fn, arg], kept sorted
    seq = 0
    held = {}  # kind "flash": the GPIO interrupt is held until the flash operation ends
    while True:
        t_edge = _line[0] >> 1 if _line and _line[0] >> 1 < t1 else None
        tm = _next_timer(t1)
        t_tm = tm._due_us if tm is not None else None
        t_call = calls[0][0] if calls else None
        if t_edge is None and held:
            for p in held.values():
                start = _schedule(t1, kind, t0, t1)
                if start is not None:
                    calls.append([start, seq, p._handler, p])
                    seq += 1
            held = {}
            calls.sort()
            continue
        nxt = min(x for x in (t_edge, t_tm, t_call, 1 << 62) if x is not None)
        if nxt == 1 << 62:
            _esp32()._ulp_until(t1, _level)
            break
        if t_call is not None and nxt == t_call and (t_edge is None or t_call < t_edge):
            start, _s, fn, arg = calls.pop(0)
            if fn is not None:
                _run(start, fn, arg)
            continue
        if t_tm is not None and nxt == t_tm and (t_edge is None or t_tm < t_edge):
            tm._due_us = t_tm + tm._period_us if tm._mode == Timer.PERIODIC and tm._period_us else None
            start = _schedule(t_tm, kind, t0, t1)
            if start is not None:
                calls.append([start, seq, tm._cb, tm])
                seq += 1
                calls.sort()
            continue
        v = _line.pop(0)
        t, level = v >> 1, v & 1
        after = _line[0] >> 1 if _line else None
        _esp32()._ulp_until(t, _level)
        for c in _counters:
            c._transition(t, level, after)
        if level == _level:
            continue
        _level = level
        want = Pin.IRQ_FALLING if level == 0 else Pin.IRQ_RISING
        for p in _irq_pins:
            if p._handler is None or not p._trigger & want or p.id != _simctl.counter_pin:
                continue
            if kind == "flash":
                held[id(p)] = p
                continue
            start = _schedule(t, kind, t0, t1)
            if start is not None:
                calls.append([start, seq, p._handler, p])
                seq += 1
        calls.sort()


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def reset_cause():
    """As the esp32 port: a brown-out reads as PWRON_RESET."""
    return _simctl.reset_cause


def wake_reason():
    return TIMER_WAKE if _simctl.reset_cause == DEEPSLEEP_RESET else 0


class _Mem32:
    """Word reads of the few registers the firmware may look at."""

    def __getitem__(self, addr):
        if addr == _RESET_STATE_REG:
            return _simctl.reset_reason & 0x3F
        if RTC_SLOW_MEM <= addr < RTC_SLOW_MEM + 8192:
            import esp32

            return esp32._rtc_slow_word(addr - RTC_SLOW_MEM)
        raise ValueError("sim: no register at 0x%08x" % addr)

    def __setitem__(self, addr, value):
        if RTC_SLOW_MEM <= addr < RTC_SLOW_MEM + 8192:
            import esp32

            esp32._rtc_slow_set(addr - RTC_SLOW_MEM, value)
            return
        raise ValueError("sim: no register at 0x%08x" % addr)


mem32 = _Mem32()


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 160000000


def reset():
    _simctl.reset("hard")


def soft_reset():
    _simctl.reset("soft")


def idle():
    _simctl.sleep_ms(1)


def lightsleep(ms=None):
    _simctl.sleep_ms(ms or 1)


def deepsleep(ms=None):
    _esp32()._save_slow()
    _simctl.deepsleep(ms or 0)


def _replay_sleep(t0_us, t1_us, n):
    """Pulses that came while the chip slept: only the ULP (if running) saw them."""
    global _level
    _pulse_transitions(t0_us, t1_us, n)
    _line.sort()
    ulp = _esp32()
    while _line and _line[0] >> 1 < t1_us:
        v = _line.pop(0)
        ulp._ulp_until(v >> 1, _level)
        _level = v & 1
    ulp._ulp_until(t1_us, _level)


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
    """RTC user memory (2 KiB) in a host file: kept across watchdog resets and deep sleep, lost on power loss."""

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
        return None

    def datetime(self, dt=None):
        """Get or set the wall clock (year, month, day, weekday, hours, minutes, seconds, subseconds)."""
        import time

        if dt is None:
            t = time.gmtime(time.time())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        y, m, d = dt[0], dt[1], dt[2]
        y2 = y - (m <= 2)
        era = y2 // 400
        yoe = y2 - era * 400
        doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
        days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        unix_s = days * 86400 + dt[4] * 3600 + dt[5] * 60 + dt[6]
        _simctl.rtc_offset_ms = unix_s * 1000 - _simctl.epoch_ms - _simctl.virt_ms
        import sys

        sys.stdout.write("@@t %d\n" % _simctl.rtc_offset_ms)  # the host keeps the RTC across resets
        return None
