"""Litres used per interval, from register totals: exact (integer millilitres)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ingest.store.base import Bucket, Store


@dataclass(frozen=True, slots=True)
class Interval:
    start_s: int
    end_s: int
    used_ml: int
    readings: bool  # whether any reading fell in this interval
    peak_flow_lpm: float | None = None  # highest flow within it, L/min (flow.py)


@dataclass(frozen=True, slots=True)
class Usage:
    intervals: list[Interval]
    total_ml: int
    baseline_ml: int | None
    resets: int
    # Register total at the end of each fine step (start + k·step) that held a reading.
    step_s: int = 0
    ends_ml: dict[int, int] = field(default_factory=dict)


def usage(store: Store, meter: str, start_s: int, stop_s: int, every_s: int) -> Usage:
    """Use in (start+k·every, start+(k+1)·every]: each interval's last total minus the one before.

    The baseline is the last reading at or before `start`; with none, the first reading in
    the range (water before a meter's first reading is unknown, not zero). A total lower than
    the one before (register set, board swapped) counts as a reset: that step adds nothing.
    """
    bounds = list(range(start_s, stop_s, every_s)) + [stop_s]
    # The last interval may be shorter; the store walks whole steps, so step the remainder.
    step_s = every_s if (stop_s - start_s) % every_s == 0 else _gcd_step(bounds)
    return usage_on_grid(store, meter, bounds, step_s)


def _gcd_step(bounds: list[int]) -> int:
    from math import gcd

    g = 0
    for b in bounds[1:]:
        g = gcd(g, b - bounds[0])
    return g


@dataclass(frozen=True, slots=True)
class MeterGrid:
    """What usage needs of one meter over (b0, bn]: last total per step, baseline, first total."""

    steps: list[Bucket]
    baseline_ml: int | None  # last total at or before b0
    first_ml: int | None  # first total in (b0, bn]; only needed when there is no baseline
    # Highest flow (L/min) per step start, when the store keeps per-reading flow; else None.
    peaks_lpm: dict[int, float] | None = None


def store_grid(store: Store, meter: str, b0: int, bn: int, step_s: int) -> MeterGrid:
    """The grid from the Store contract's methods (two or three queries)."""
    steps = store.bucket_lasts(meter, b0, bn, step_s)
    baseline = store.last_at_or_before(meter, b0)
    first = store.first_after(meter, b0, bn) if steps and baseline is None else None
    return MeterGrid(steps, baseline, first)


def usage_on_grid(store: Store, meter: str, bounds: list[int], step_s: int) -> Usage:
    """Use in each (bounds[i], bounds[i+1]], read from the store in whole steps of step_s.

    Every boundary must lie on bounds[0] + k·step_s, which lets calendar buckets (local days,
    months across DST) be built from one uniform store query. Use is summed step by step, so
    a reset loses only the use inside its own step (at most an hour), not its whole day.
    """
    check_grid(bounds, step_s)
    return usage_from_grid(store_grid(store, meter, bounds[0], bounds[-1], step_s), bounds, step_s)


def check_grid(bounds: list[int], step_s: int) -> None:
    """ValueError unless every boundary lies on bounds[0] + k·step_s."""
    if any((b - bounds[0]) % step_s for b in bounds):
        raise ValueError(f"boundaries are not on a {step_s} s grid")


def usage_from_grid(grid: MeterGrid, bounds: list[int], step_s: int) -> Usage:
    """usage_on_grid's arithmetic on an already fetched grid."""
    b0 = bounds[0]
    steps, baseline = grid.steps, grid.baseline_ml
    prev = baseline if baseline is not None else (grid.first_ml if steps else None)
    n = len(bounds) - 1
    used = [0] * n
    seen = [False] * n
    resets = 0
    ends: dict[int, int] = {}
    for step in steps:
        i = bisect_right(bounds, step.start_s) - 1
        if not 0 <= i < n:
            continue
        seen[i] = True
        ends[step.start_s + step_s] = step.total_ml
        if prev is not None:
            if step.total_ml >= prev:
                used[i] += step.total_ml - prev
            else:
                resets += 1
        prev = step.total_ml
    intervals = [Interval(bounds[i], bounds[i + 1], used[i], seen[i]) for i in range(n)]
    if baseline is not None:
        ends[b0] = baseline
    return Usage(intervals, sum(used), baseline, resets, step_s, ends)


def night_hours_ml(result: Usage, windows: list[tuple[int, int]]) -> dict[int, int]:
    """Litres (ml) used in each whole hour of the night windows that has readings at both ends."""
    out = {}
    for a, b in windows:
        for h in range(a, b, 3600):
            lo, hi = result.ends_ml.get(h), result.ends_ml.get(h + 3600)
            if lo is not None and hi is not None and hi >= lo and h + 3600 <= b:
                out[h] = hi - lo
    return out
