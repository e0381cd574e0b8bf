"""The cyclic garbage collector in a process that holds a fleet's state.

A worker keeps millions of long-lived objects (states, their open hours) and each batch replaces
hundreds of thousands of them. Python's automatic collections then walk them again and again: with the
thresholds the worker used (50,000 / 20 / 20, the loaded state frozen once) the collector still took
≈ 3 µs of the writer's ≈ 17 µs per steady reading (bench: `gc.disable()` on the same batches).

So the worker collects by hand. Between batches (`between_batches`, the writer thread) it only
freezes: `gc.freeze()` moves everything made since out of every later collection's reach, in constant
time (a young collection first, `gc.collect(1)`, took 11 % of the running writer's time in a py-spy
profile of `bench.ingest`, to find 16 unreachable objects per batch of 10,000 readings: httpx's, gone
since `/write` uses http.client, storage/readings/conn.py). Nothing the ingest keeps forms a reference
cycle, so a frozen object is freed by its reference count like any other; only garbage in reference
cycles (an exception kept with its traceback, a dropped connection's objects) is held back, until the
full collection every `full_every_s`: the whole heap unfrozen and collected
(≈ 2 s at 1M meters, logged; ≈ 0.3 % of the time at the default 10 minutes).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("ingest")


class Collector:
    """Manual generational collection for one process (`start` once, `between_batches` per batch)."""

    def __init__(self, full_every_s: float = 600.0, clock: Callable[[], float] = time.monotonic):
        if not full_every_s > 0:
            raise ValueError("full_every_s must be > 0")
        self.full_every_s = full_every_s
        self._clock = clock
        self._last_full_s = clock()
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        """Freeze what exists (the loaded state) and stop automatic collections."""
        self._was_enabled = gc.isenabled()
        gc.freeze()
        gc.disable()
        self._last_full_s = self._clock()

    def between_batches(self) -> None:
        """Freeze what the last batch made; the full collection when it is due."""
        gc.freeze()
        if self._clock() - self._last_full_s >= self.full_every_s:
            self.full()

    def full(self) -> None:
        """Unfreeze and collect everything (the rare pause that bounds what freezing holds back)."""
        t0 = time.monotonic()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        self._last_full_s = self._clock()
        log.info(
            "full garbage collection",
            extra={"fields": {"s": round(time.monotonic() - t0, 3), "freed": freed}},
        )

    def stop(self) -> None:
        """Automatic collections as before `start` (the frozen objects stay frozen)."""
        if self._was_enabled:
            gc.enable()
