"""Counting meter pulses on an ESP32, in the best way the board and the sensor allow.

- "ulp": the ULP co-processor samples the pin every few milliseconds and counts debounced
  closings into RTC slow memory (ulp.py). It ignores contact bounce, keeps counting while
  the CPU is stalled, resetting through a deep sleep, and during the boot after a deep
  sleep. The choice for reed switches, and the only one for battery mode.
- "pcnt": `machine.Counter` (the PCNT, MicroPython >= 1.26), for hall sensors: counts in
  hardware whatever the CPU does; its glitch filter stops at 12.8 us, far below reed
  bounce (0.1-2 ms), so it would count a reed's bounces.
- "irq": Pin.irq, the fallback. On ESP32 it is a soft interrupt: handlers are scheduled,
  run late (after bounce, after flash writes or DNS look-ups) and the queue drops edges
  beyond 8. So the handler never samples the level at the edge: every edge (re)arms a
  one-shot timer, and the level is read only when the line has been quiet for
  `debounce_ms` - settle, then sample. A pulse is missed only if a whole closing and
  opening fall inside one stall of the CPU.

Whatever is chosen is reported (`mode`, and `fallback` with the reason when it is not the
best one for the sensor), never silently.
"""

import machine

_SPAN = 65536  # ULP and PCNT words wrap at 16 bits: poll before 32768 pulses arrive


class Counter:
    """Pulses since the last take(); mode and fallback say how they are counted."""

    def __init__(self, pin_no, sensor="reed", edge="falling", pull="up", debounce_ms=5, mode="auto",
                 timer_id=0, ulp_period_ms=5, ulp_debounce=3):
        pulls = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN, "none": None}
        self._pin_no = pin_no
        self._pin = machine.Pin(pin_no, machine.Pin.IN, pulls[pull])
        self._active = 0 if edge == "falling" else 1
        self._debounce_ms = max(1, debounce_ms)
        self._ulp_period_ms = ulp_period_ms
        self._ulp_debounce = ulp_debounce
        self._count = 0
        self._closed = self._pin.value() == self._active
        self._last = 0
        self._hw = None
        self._ulp = None
        self.mode = None
        self.fallback = None
        want = mode if mode != "auto" else ("ulp" if sensor == "reed" else "pcnt")
        order = [want] + [m for m in ("ulp", "pcnt", "irq") if m != want]
        if sensor == "reed":  # a PCNT would count the bounces of a reed contact
            order = [m for m in order if m != "pcnt"]
        reasons = []
        for m in order:
            why = getattr(self, "_start_" + m)(edge, timer_id)
            if why is None:
                self.mode = m
                break
            reasons.append("%s: %s" % (m, why))
        if self.mode != want:
            self.fallback = "; ".join(reasons) or "%s not usable for %s" % (want, sensor)
            print("counter: fallback to %s (%s)" % (self.mode, self.fallback))

    # -- the three ways ------------------------------------------------------------
    def _start_ulp(self, edge, _timer_id):
        try:
            import ulp

            self._ulp = ulp.PulseCounter(self._pin_no, self._active, self._ulp_period_ms, self._ulp_debounce)
        except (ImportError, AttributeError, ValueError, OSError) as err:
            return "no ULP (%s)" % err
        self._last = self._ulp.last()
        return None

    def _start_pcnt(self, edge, _timer_id):
        ctr = getattr(machine, "Counter", None)
        if ctr is None:
            return "no machine.Counter (MicroPython < 1.26)"
        try:
            ctr_edge = ctr.FALLING if edge == "falling" else ctr.RISING
            self._hw = ctr(0, self._pin, edge=ctr_edge, filter_ns=12800)
        except (TypeError, ValueError, OSError) as err:
            return str(err)
        self._last = self._hw.value()
        return None

    def _start_irq(self, _edge, timer_id):
        self._timer = machine.Timer(timer_id)
        trigger = machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING
        self._pin.irq(handler=self._on_edge, trigger=trigger)
        return None

    # -- irq: settle, then sample --------------------------------------------------
    def _on_edge(self, _pin):
        # Scheduled (soft) callback, late: only (re)arm the settle timer, never read the level here.
        self._timer.init(mode=machine.Timer.ONE_SHOT, period=self._debounce_ms, callback=self._settle)

    def _settle(self, _t):
        closed = self._pin.value() == self._active
        if closed and not self._closed:
            self._count += 1
        self._closed = closed

    # -- reading --------------------------------------------------------------------
    def take(self):
        """Pulses counted since the last call; call at least every few minutes (16-bit wrap)."""
        if self._ulp is not None:
            now = self._ulp.value()
            n = (now - self._last) % _SPAN
            self._last = now
            self._ulp.keep(now)  # in RTC slow memory: a deep sleep does not lose the bookmark
            return n
        if self._hw is not None:
            now = self._hw.value()
            n = now - self._last
            self._last = now
            return n
        state = machine.disable_irq()
        n = self._count
        self._count = 0
        machine.enable_irq(state)
        return n
