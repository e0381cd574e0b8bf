"""Litres used per interval, from register totals: exact (integer millilitres)."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.store.base import Store


@dataclass(frozen=True, slots=True)
class Interval:
    start_s: int
    end_s: int
    used_ml: int
    readings: bool  # whether any reading fell in this interval


@dataclass(frozen=True, slots=True)
class Usage:
    intervals: list[Interval]
    total_ml: int
    baseline_ml: int | None
    resets: int


def usage(store: Store, meter: str, start_s: int, stop_s: int, every_s: int) -> Usage:
    """Use in (start+k·every, start+(k+1)·every]: each interval's last total minus the one before.

    The baseline is the last reading at or before `start`; with none, the first reading in
    the range (water before a meter's first reading is unknown, not zero). A total lower than
    the one before (register set, board swapped) counts as a reset: that step adds nothing.
    """
    buckets = {b.start_s: b.total_ml for b in store.bucket_lasts(meter, start_s, stop_s, every_s)}
    baseline = store.last_at_or_before(meter, start_s)
    prev = baseline if baseline is not None else store.first_after(meter, start_s, stop_s)
    intervals = []
    total = 0
    resets = 0
    t = start_s
    while t < stop_s:
        end = min(t + every_s, stop_s)
        last = buckets.get(t)
        used = 0
        if last is not None and prev is not None:
            if last >= prev:
                used = last - prev
            else:
                resets += 1
            prev = last
        total += used
        intervals.append(Interval(t, end, used, last is not None))
        t = end
    return Usage(intervals, total, baseline, resets)
