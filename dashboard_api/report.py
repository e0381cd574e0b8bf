"""Usage of one meter or a group of meters on a calendar grid: totals, peak flow, night minimum."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.errors import Invalid
from core.timegrid import Every, boundaries, common_step_s, night_windows
from core.usage import Interval, check_grid, night_hours_ml, usage_from_grid
from storage.readings.base import Store
from storage.readings.flows import FlowSource


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """What a caller asked for, already validated."""

    start_s: int
    stop_s: int
    every: Every
    zone: ZoneInfo
    max_steps: int
    night_start_h: int = 2
    night_end_h: int = 5


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Summed over `meters`; litres as integer millilitres."""

    meters: list[str]
    start_s: int
    stop_s: int
    intervals: list[Interval]
    total_ml: int
    resets: int  # segment breaks (core.consumption)
    peak_flow_lpm: float | None
    peak_flow_at_s: int | None  # end of the step that held the peak
    night_min_ml_per_h: int | None
    night_min_at_s: int | None  # start of the quietest night hour


def usage_report(store: Store, flows: FlowSource, meters: list[str], spec: ReportSpec) -> UsageReport:
    """Sum each meter's exact usage per interval; Invalid when the range is too fine.

    `store` is kept for callers; the readings come through `flows` (batched per request on InfluxDB).
    """
    bounds = boundaries(spec.start_s, spec.stop_s, spec.every, spec.zone, spec.max_steps)
    step_s = common_step_s(bounds)
    if (bounds[-1] - bounds[0]) // step_s > spec.max_steps:
        raise Invalid(f"more than {spec.max_steps} steps of {step_s} s: use a shorter range")
    n = len(bounds) - 1
    used = [0] * n
    seen = [False] * n
    resets = 0
    night_sum: dict[int, int] = {}
    night_count: dict[int, int] = {}
    windows = night_windows(bounds, spec.zone, spec.night_start_h, spec.night_end_h)
    check_grid(bounds, step_s)
    grids = flows.grids(meters, bounds[0], bounds[-1], step_s)
    if len(meters) == 1 and grids[0].peaks_lpm is not None:
        flow_per_step = grids[0].peaks_lpm  # stored per-reading flow: no second query
    else:
        stored = all(g.peaks_lpm is not None for g in grids)
        flow_per_step = flows.max_flow_per_step(meters, bounds[0], bounds[-1], step_s, stored)
    for grid in grids:
        one = usage_from_grid(grid, bounds, step_s)
        for i, iv in enumerate(one.intervals):
            used[i] += iv.used_ml
            seen[i] = seen[i] or iv.readings
        resets += one.breaks
        for h, ml in night_hours_ml(one, windows).items():
            night_sum[h] = night_sum.get(h, 0) + ml
            night_count[h] = night_count.get(h, 0) + 1

    peaks: list[float | None] = [None] * n
    peak, peak_at = None, None
    for s, lpm in sorted(flow_per_step.items()):
        i = bisect_right(bounds, s) - 1
        if 0 <= i < n:
            lpm = round(lpm, 3)
            held = peaks[i]
            peaks[i] = lpm if held is None else max(held, lpm)
            if peak is None or lpm > peak:
                peak, peak_at = lpm, s + step_s

    # A night hour counts for a group only when every meter has readings around it.
    complete = {h: ml for h, ml in night_sum.items() if night_count[h] == len(meters)}
    night_at = min(complete, key=lambda h: (complete[h], h)) if complete else None
    intervals = [Interval(bounds[i], bounds[i + 1], used[i], seen[i], peaks[i]) for i in range(n)]
    return UsageReport(
        list(meters),
        bounds[0],
        bounds[-1],
        intervals,
        sum(used),
        resets,
        peak,
        peak_at,
        complete[night_at] if night_at is not None else None,
        night_at,
    )
