"""The ULP co-processor as the pulse counter: program ulp_counter.S, binary ulp_prog.py.

The ULP samples GPIO4 every `period_ms` and counts debounced closings in RTC slow memory,
whatever the CPUs do: stalled on flash, booting, or in deep sleep. After a deep sleep it
is still running and is not reloaded (that would zero its count); the CPU keeps the count
it last took in the program's `taken` word, which survives deep sleep too.
"""

import machine
import ulp_prog
from micropython import const

_MEM = const(0x50000000)  # RTC slow memory, where the program and its data live
_MAGIC = const(21580)
_WORD = const(0xFFFF)  # the ULP stores 16-bit values in the low half of a word


def _get(word):
    return machine.mem32[_MEM + 4 * word] & _WORD


def _set(word, value):
    machine.mem32[_MEM + 4 * word] = value & _WORD


class PulseCounter:
    """value(): debounced closings counted by the ULP (16 bits); last/keep(): the CPU's bookmark."""

    def __init__(self, pin_no, active_level, period_ms=5, debounce=3):
        import esp32

        if pin_no != 4:
            raise ValueError("the ULP program reads GPIO4 (RTC_GPIO10), not GPIO%d" % pin_no)
        self.resumed = (_get(ulp_prog.MAGIC) == _MAGIC
                        and machine.reset_cause() == machine.DEEPSLEEP_RESET)
        if not self.resumed:
            ulp = esp32.ULP()
            ulp.set_wakeup_period(0, period_ms * 1000)
            ulp.load_binary(0, ulp_prog.CODE)
            _set(ulp_prog.DEBOUNCE, debounce)
            _set(ulp_prog.ACTIVE, active_level)
            _set(ulp_prog.TAKEN, 0)
            ulp.run(ulp_prog.ENTRY * 4)

    def value(self):
        return _get(ulp_prog.COUNT)

    # -- minute slots (battery mode) ----------------------------------------------------
    def start_minutes(self, runs_per_slot, runs_to_first, first_ts):
        """Slots every runs_per_slot runs, the first after runs_to_first; it holds minute first_ts."""
        _set(ulp_prog.PER_MIN, runs_per_slot)
        _set(ulp_prog.TICKS, runs_per_slot - runs_to_first)
        machine.mem32[_MEM + 4 * ulp_prog.CPU_IDX] = _get(ulp_prog.IDX)
        machine.mem32[_MEM + 4 * ulp_prog.CPU_TS] = first_ts

    def minutes(self):
        """(ts, count) of every slot written since the last call, oldest first (at most 64)."""
        end = _get(ulp_prog.IDX)
        i = machine.mem32[_MEM + 4 * ulp_prog.CPU_IDX] & 63
        ts = machine.mem32[_MEM + 4 * ulp_prog.CPU_TS]
        out = []
        while i != end:
            out.append((ts, _get(ulp_prog.RING + i)))
            ts += 60
            i = (i + 1) & 63
        machine.mem32[_MEM + 4 * ulp_prog.CPU_IDX] = end
        machine.mem32[_MEM + 4 * ulp_prog.CPU_TS] = ts
        return out

    def last(self):
        return _get(ulp_prog.TAKEN)

    def keep(self, value):
        _set(ulp_prog.TAKEN, value)
