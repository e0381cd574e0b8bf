"""The fleet's virtual clock keeps participants in step and never holds the slowest."""

from __future__ import annotations

import threading
import time

import pytest

from hardware_sim.clock import VirtualClock


def test_a_fast_participant_waits_for_the_slowest():
    clock = VirtualClock(slack_ms=1000)
    fast, slow = clock.join(), clock.join()
    clock.moved(fast, 500)
    assert clock.may_advance(fast, 1000) and not clock.may_advance(fast, 1001)
    clock.moved(fast, 1000)
    reached = threading.Event()
    t = threading.Thread(target=lambda: (clock.advance(fast, 5000), reached.set()))
    t.start()
    time.sleep(0.2)
    assert not reached.is_set(), "5 s ahead of a participant at 0 with 1 s slack"
    assert clock.may_advance(slow, 60_000), "the slowest is never held"
    clock.moved(slow, 4500)
    assert reached.wait(2) and clock.min_ms() == 4500
    t.join()
    clock.leave(slow)
    assert clock.may_advance(fast, 10**9), "alone, nobody holds it back"
    clock.leave(fast)
    assert clock.min_ms() is None


def test_speed_paces_virtual_time_against_real_time():
    clock = VirtualClock(speed=10.0)
    pid = clock.join()
    clock.start()
    t0 = time.monotonic()
    assert not clock.may_advance(pid, 2000), "2 virtual s at 10x is 0.2 real s away"
    clock.advance(pid, 2000)
    assert time.monotonic() - t0 >= 0.19


def test_bad_clock_settings():
    with pytest.raises(ValueError, match="speed must be >= 0"):
        VirtualClock(speed=-1)
    with pytest.raises(ValueError, match="slack_ms must be >= 0"):
        VirtualClock(slack_ms=-5)
