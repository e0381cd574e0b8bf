"""Use per interval of a calendar grid, from spans of each meter's readings (pure arithmetic).

A `MeterGrid` is what a store answers for one meter over (b0, bn] in steps of step_s: the reading at
or before b0 (the anchor) and, per step that held readings, the `Span` of them. `usage_from_grid`
runs the one consumption rule (core.consumption) over it, so every resolution, roll-up or not, gives
the reading-level answer.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from core.consumption import DEFAULT_RULE, Rule, Span, combine, used_ml
from core.errors import Invalid
from core.units import HOUR_S


@dataclass(frozen=True, slots=True)
class Interval:
    """Use in (start_s, end_s]."""

    start_s: int
    end_s: int
    used_ml: int
    readings: bool  # whether any reading fell in this interval
    peak_flow_lpm: float | None = None  # highest flow within it, L/min


@dataclass(frozen=True, slots=True)
class MeterGrid:
    """One meter over (b0, bn]: the anchor reading's span and each step's span (step start, span)."""

    steps: list[tuple[int, Span]]
    baseline: Span | None  # the last reading at or before b0 (None: the meter has none)
    # Highest flow (L/min) per step start, when the store knows every reading's flow; else None.
    peaks_lpm: dict[int, float] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Use of one meter per interval."""

    intervals: list[Interval]
    total_ml: int
    breaks: int  # segment breaks (resets, swaps, register sets) in the range
    step_s: int = 0
    # C (ml, counted from the anchor) at the end of each step that held a reading, and at b0.
    ends_ml: dict[int, int] = field(default_factory=dict)


def check_grid(bounds: list[int], step_s: int) -> None:
    """Invalid unless every boundary lies on bounds[0] + k·step_s."""
    if step_s <= 0 or any((b - bounds[0]) % step_s for b in bounds):
        raise Invalid(f"boundaries are not on a {step_s} s grid")


def usage_from_grid(grid: MeterGrid, bounds: list[int], step_s: int, rule: Rule = DEFAULT_RULE) -> Usage:
    """Use in each (bounds[i], bounds[i+1]]; every boundary is on bounds[0] + k·step_s."""
    b0, n = bounds[0], len(bounds) - 1
    used = [0] * n
    seen = [False] * n
    acc = grid.baseline
    base_segments = acc.segments if acc is not None else 1
    prev = used_ml(acc)
    ends: dict[int, int] = {}
    if acc is not None:
        ends[b0] = prev
    for start, span in grid.steps:
        i = bisect_right(bounds, start) - 1
        if not 0 <= i < n:
            continue
        acc = combine(acc, span, rule)
        assert acc is not None
        c = acc.used_ml
        used[i] += c - prev
        seen[i] = True
        ends[start + step_s] = c
        prev = c
    breaks = acc.segments - base_segments if acc is not None else 0
    base = used_ml(grid.baseline)
    intervals = [Interval(bounds[i], bounds[i + 1], used[i], seen[i]) for i in range(n)]
    return Usage(intervals, prev - base, breaks, step_s, {t: c - base for t, c in ends.items()})


def night_hours_ml(result: Usage, windows: list[tuple[int, int]]) -> dict[int, int]:
    """Litres (ml) used in each whole hour of the night windows that has readings at both ends."""
    out = {}
    for a, b in windows:
        for h in range(a, b, HOUR_S):
            lo, hi = result.ends_ml.get(h), result.ends_ml.get(h + HOUR_S)
            if lo is not None and hi is not None and h + HOUR_S <= b:
                out[h] = hi - lo
    return out
