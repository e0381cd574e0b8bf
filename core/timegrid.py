"""Calendar bucket boundaries in a time zone: minutes, quarter hours, hours, local days, months.

Buckets are half-open on the left, (b[i], b[i+1]], the convention of core.consumption. Days start at
local midnight and months on the 1st at local midnight, so a day is 23 or 25 hours long across a DST
change and a month is 28–31 days. Minutes, quarters and hours are aligned to the local wall clock
(a +05:45 zone's hours start at :15 UTC) and then step in absolute seconds.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.errors import Invalid
from core.timezones import local, local_date, midnight_s, next_month, utc_offset_s
from core.units import HOUR_S

FINEST_STEP_S = 60


class Every(StrEnum):
    """Resolutions a caller may ask for (one enum for every route)."""

    m1 = "1m"
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"
    mo1 = "1mo"


FIXED_STEP_S = {Every.m1: 60, Every.m15: 900, Every.h1: HOUR_S}


class TooManyIntervals(Invalid):
    """The range holds more buckets than the caller's limit."""


def floor_to(t_s: int, every: Every, zone: ZoneInfo) -> int:
    """Start of the bucket holding instant t_s (t_s itself when it is a boundary)."""
    if every in FIXED_STEP_S:
        step = FIXED_STEP_S[every]
        return t_s - (t_s + utc_offset_s(t_s, zone)) % step
    d = local_date(t_s, zone)
    start = midnight_s(d if every is Every.d1 else d.replace(day=1), zone)
    return start if start <= t_s else floor_to(t_s - 1, every, zone)


def next_boundary(b_s: int, every: Every, zone: ZoneInfo) -> int:
    """The boundary after b_s (b_s on the grid)."""
    if every in FIXED_STEP_S:
        return b_s + FIXED_STEP_S[every]
    d = local_date(b_s, zone)
    return midnight_s(d + timedelta(days=1) if every is Every.d1 else next_month(d), zone)


def boundaries(start_s: int, stop_s: int, every: Every, zone: ZoneInfo, limit: int) -> list[int]:
    """b[0] ≤ start_s < … < b[-1], b[-1] ≥ stop_s: the aligned buckets covering [start, stop].

    Raises TooManyIntervals beyond `limit` buckets (the caller asked for too fine a resolution).
    """
    if stop_s <= start_s:
        raise Invalid("stop must be after start")
    out = [floor_to(start_s, every, zone)]
    while out[-1] < stop_s:
        if len(out) > limit:
            raise TooManyIntervals(f"more than {limit} intervals: use a coarser `every` or a shorter range")
        out.append(next_boundary(out[-1], every, zone))
    return out


def clipped_boundaries(start_s: int, stop_s: int, every: Every, zone: ZoneInfo, limit: int) -> list[int]:
    """start_s, the grid's boundaries strictly inside (start, stop), stop_s: buckets cut at both ends."""
    inner = [b for b in boundaries(start_s, stop_s, every, zone, limit) if start_s < b < stop_s]
    return [start_s, *inner, stop_s]


def common_step_s(bounds: list[int], cap_s: int = HOUR_S) -> int:
    """Largest step ≤ cap_s that divides every boundary's distance from the first one."""
    g = cap_s
    for b in bounds[1:]:
        g = math.gcd(g, b - bounds[0])
    return max(g, 1)


def night_windows(bounds: list[int], zone: ZoneInfo, start_h: int, end_h: int) -> list[tuple[int, int]]:
    """Absolute [start, end) of each local night (start_h:00 to end_h:00) inside the buckets."""
    lo, hi = bounds[0], bounds[-1]
    day = local_date(lo, zone) - timedelta(days=1)
    last = local_date(hi, zone)
    out = []
    while day <= last:
        base = datetime(day.year, day.month, day.day, tzinfo=zone)
        a = int((base + timedelta(hours=start_h)).timestamp())
        b = (
            int((base + timedelta(hours=end_h)).timestamp())
            if end_h < 24
            else midnight_s(day + timedelta(days=1), zone)
        )
        if a >= lo and b <= hi:
            out.append((a, b))
        day += timedelta(days=1)
    return out


__all__ = [
    "FINEST_STEP_S",
    "FIXED_STEP_S",
    "Every",
    "TooManyIntervals",
    "boundaries",
    "clipped_boundaries",
    "common_step_s",
    "floor_to",
    "local",
    "next_boundary",
    "night_windows",
]
