"""Virtual time shared by every meter of a fleet: paced to a speed, kept in step within a slack."""

from __future__ import annotations

import itertools
import threading
import time


class VirtualClock:
    """Host-owned virtual time for a mixed fleet.

    Each participant (a firmware board, or the loop driving all light meters) reports how
    far its virtual time has got. A participant may move ahead only while it is at most
    `slack_ms` past the slowest other one, so firmware boards and light meters stay in
    step whatever their real cost; the slowest is never held, so nobody deadlocks. With
    `speed` > 0, nobody runs ahead of `speed` virtual seconds per real second either.
    """

    def __init__(self, speed: float = 0.0, slack_ms: int = 300_000):
        if speed < 0:
            raise ValueError("speed must be >= 0 (0 = as fast as possible)")
        if slack_ms < 0:
            raise ValueError("slack_ms must be >= 0")
        self.speed = speed
        self.slack_ms = slack_ms
        self._positions: dict[int, int] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._real_t0: float | None = None

    def start(self) -> None:
        """Fix real time zero for pacing (first call wins)."""
        with self._cond:
            if self._real_t0 is None:
                self._real_t0 = time.monotonic()

    def join(self, at_ms: int = 0) -> int:
        """Register a participant at virtual time at_ms; returns its id."""
        with self._cond:
            pid = next(self._ids)
            self._positions[pid] = at_ms
            return pid

    def leave(self, pid: int) -> None:
        """A participant has finished (or died): it no longer holds the others back."""
        with self._cond:
            self._positions.pop(pid, None)
            self._cond.notify_all()

    def min_ms(self) -> int | None:
        """Virtual time of the slowest participant still running, or None when none is."""
        with self._cond:
            return min(self._positions.values()) if self._positions else None

    def _in_step(self, pid: int, new_ms: int) -> bool:
        others = [ms for p, ms in self._positions.items() if p != pid]
        if not others:
            return True
        slowest = min(others)
        return new_ms <= slowest + self.slack_ms or self._positions.get(pid, 0) <= slowest

    def _pace_delay_s(self, new_ms: int) -> float:
        if self.speed <= 0 or self._real_t0 is None:
            return 0.0
        return self._real_t0 + new_ms / 1000.0 / self.speed - time.monotonic()

    def may_advance(self, pid: int, new_ms: int) -> bool:
        """True when pid could move to new_ms now without waiting (non-blocking check)."""
        with self._cond:
            return self._in_step(pid, new_ms) and self._pace_delay_s(new_ms) <= 0

    def moved(self, pid: int, new_ms: int) -> None:
        """Record that pid has reached new_ms (after a may_advance check)."""
        with self._cond:
            self._positions[pid] = new_ms
            self._cond.notify_all()

    def advance(self, pid: int, new_ms: int) -> None:
        """Block until pid may be at new_ms (in step and paced), then record it there."""
        with self._cond:
            while not self._in_step(pid, new_ms):
                self._cond.wait(0.5)
            self._positions[pid] = new_ms
            self._cond.notify_all()
            delay = self._pace_delay_s(new_ms)
        if delay > 0:
            time.sleep(delay)
