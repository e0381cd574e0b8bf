"""Calendar bucket boundaries in a time zone: minutes, quarter hours, hours, local days, months.

Buckets are half-open on the left, (b[i], b[i+1]], the convention of `usage.py`. Days start at
local midnight and months on the 1st at local midnight, so a day is 23 or 25 hours long
across a DST change and a month is 28–31 days. Minutes, quarters and hours are aligned to the
local wall clock (a +05:45 zone's hours start at :15 UTC) and then step in absolute seconds.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

FINEST_STEP_S = 60


class Every(StrEnum):
    """Resolutions a caller may ask for."""

    m1 = "1m"
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"
    mo1 = "1mo"


FIXED_STEP_S = {Every.m1: 60, Every.m15: 900, Every.h1: 3600}


def _local(t_s: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(t_s, zone)


def _midnight(d: date, zone: ZoneInfo) -> int:
    # A midnight that does not exist (DST jump at 00:00) resolves, with fold=0, to the
    # first instant of that day: the zone's rules apply the offset from before the gap.
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())


def floor_to(t_s: int, every: Every, zone: ZoneInfo) -> int:
    """Start of the bucket holding instant t_s (t_s itself when it is a boundary)."""
    local = _local(t_s, zone)
    if every in FIXED_STEP_S:
        step = FIXED_STEP_S[every]
        offset_s = int(local.utcoffset().total_seconds())
        return t_s - (t_s + offset_s) % step
    if every is Every.d1:
        start = _midnight(local.date(), zone)
    else:
        start = _midnight(local.date().replace(day=1), zone)
    return start if start <= t_s else floor_to(t_s - 1, every, zone)


def _next(b_s: int, every: Every, zone: ZoneInfo) -> int:
    if every in FIXED_STEP_S:
        return b_s + FIXED_STEP_S[every]
    d = _local(b_s, zone).date()
    if every is Every.d1:
        nxt = d + timedelta(days=1)
    else:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return _midnight(nxt, zone)


def boundaries(start_s: int, stop_s: int, every: Every, zone: ZoneInfo, limit: int) -> list[int]:
    """b[0] ≤ start_s < … < b[-1], b[-1] ≥ stop_s: the aligned buckets covering [start, stop].

    Raises ValueError beyond `limit` buckets (the caller asked for too fine a resolution).
    """
    if stop_s <= start_s:
        raise ValueError("stop must be after start")
    out = [floor_to(start_s, every, zone)]
    while out[-1] < stop_s:
        if len(out) > limit:
            raise ValueError(f"more than {limit} intervals: use a coarser `every` or a shorter range")
        out.append(_next(out[-1], every, zone))
    return out


def common_step_s(bounds: list[int], cap_s: int = 3600) -> int:
    """Largest step ≤ cap_s that divides every boundary's distance from the first one."""
    g = cap_s
    for b in bounds[1:]:
        g = math.gcd(g, b - bounds[0])
    return max(g, 1)


def night_windows(bounds: list[int], zone: ZoneInfo, start_h: int, end_h: int) -> list[tuple[int, int]]:
    """Absolute [start, end) of each local night (start_h:00 to end_h:00) inside the buckets."""
    lo, hi = bounds[0], bounds[-1]
    day = _local(lo, zone).date() - timedelta(days=1)
    last = _local(hi, zone).date()
    out = []
    while day <= last:
        base = datetime(day.year, day.month, day.day, tzinfo=zone)
        a = int((base + timedelta(hours=start_h)).timestamp())
        b = (
            int((base + timedelta(hours=end_h)).timestamp())
            if end_h < 24
            else _midnight(day + timedelta(days=1), zone)
        )
        if a >= lo and b <= hi:
            out.append((a, b))
        day += timedelta(days=1)
    return out
