"""Gap estimation: split a register difference over missing intervals by the household's own profile.

The profile is the meter's mean flow per hour of the week (local time), from intervals where the
register was read at least every `gap_s`. Without enough history, or where the profile gives the
gap no weight at all, the difference is spread in proportion to time (plain interpolation).
Allocation is in whole millilitres by largest remainder, so the parts always sum to the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

HOURS_PER_WEEK = 168


@lru_cache(maxsize=65536)
def _how(hour_index: int, tz_name: str) -> int:
    local = datetime.fromtimestamp(hour_index * 3600, ZoneInfo(tz_name))
    return local.weekday() * 24 + local.hour


def hour_of_week(t_s: int, tz_name: str) -> int:
    """0 (Monday 00:00–01:00 local) … 167."""
    return _how(t_s // 3600, tz_name)


def build_profile(
    spans: Sequence[tuple[int, int, int]], tz_name: str, min_history_s: int
) -> list[float] | None:
    """Mean ml/s per hour of week from (start_s, end_s, used_ml) spans; None with too little history."""
    used = [0.0] * HOURS_PER_WEEK
    secs = [0.0] * HOURS_PER_WEEK
    covered = 0
    for start, end, ml in spans:
        dur = end - start
        if dur <= 0:
            continue
        covered += dur
        # Attribute the span's water to the hours it covers, in proportion to time.
        t = start
        while t < end:
            nxt = min(end, (t // 3600 + 1) * 3600)
            h = hour_of_week(t, tz_name)
            used[h] += ml * (nxt - t) / dur
            secs[h] += nxt - t
            t = nxt
    if covered < min_history_s or sum(used) <= 0:
        return None
    mean_rate = sum(used) / sum(secs)
    return [used[h] / secs[h] if secs[h] else mean_rate for h in range(HOURS_PER_WEEK)]


def allocate(total_ml: int, weights: Sequence[float]) -> list[int]:
    """Whole millilitres per weight, summing exactly to total_ml (largest remainder)."""
    if total_ml < 0:
        raise ValueError("cannot allocate a negative volume")
    wsum = sum(weights)
    if not weights:
        raise ValueError("no intervals to allocate over")
    if wsum <= 0:
        weights = [1.0] * len(weights)
        wsum = float(len(weights))
    exact = [total_ml * w / wsum for w in weights]
    parts = [int(x) for x in exact]
    short = total_ml - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (exact[i] - parts[i], -i), reverse=True)
    for i in order[:short]:
        parts[i] += 1
    # Float error can leave `short` outside 0..len; fix up on the largest parts.
    diff = total_ml - sum(parts)
    if diff:
        parts[max(range(len(parts)), key=lambda i: parts[i])] += diff
    return parts


def fill_gap(
    t_a: int, v_a: int, t_b: int, v_b: int, step_s: int, profile: list[float] | None, tz_name: str
) -> list[tuple[int, int]]:
    """Estimated (ts, register ml) on every step boundary strictly inside (t_a, t_b)."""
    bounds = list(range((t_a // step_s + 1) * step_s, t_b, step_s))
    if not bounds:
        return []
    edges = [t_a, *bounds, t_b]
    spans = list(zip(edges[:-1], edges[1:], strict=True))
    if profile is None:
        weights = [float(e - s) for s, e in spans]
    else:
        weights = [_span_weight(s, e, profile, tz_name) for s, e in spans]
        if sum(weights) <= 0:
            weights = [float(e - s) for s, e in spans]
    parts = allocate(v_b - v_a, weights)
    out = []
    value = v_a
    for t, part in zip(bounds, parts[:-1], strict=True):
        value += part
        out.append((t, value))
    return out


def _span_weight(start: int, end: int, profile: list[float], tz_name: str) -> float:
    w = 0.0
    t = start
    while t < end:
        nxt = min(end, (t // 3600 + 1) * 3600)
        w += profile[hour_of_week(t, tz_name)] * (nxt - t)
        t = nxt
    return w
