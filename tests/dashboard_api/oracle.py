"""Independent answers for the usage tests: straight from the readings, no store, no grid code."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.model import Reading


def local_bounds(first: datetime, count: int, step: str) -> list[int]:
    """Epoch seconds of `count`+1 consecutive local calendar boundaries from `first` (aware)."""
    out = []
    t = first
    for _ in range(count + 1):
        out.append(int(t.timestamp()))
        if step == "1d":
            t = (t.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=t.tzinfo)
        elif step == "1mo":
            t = t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)
        else:
            t = datetime.fromtimestamp(t.timestamp() + {"1m": 60, "15m": 900, "1h": 3600}[step], t.tzinfo)
    return out


def used_per_interval(readings: list[Reading], bounds: list[int]) -> tuple[list[int], int]:
    """Use per interval, summed over its whole hours (or its whole self, when shorter than an hour).

    Per hour: last total minus the previous hour's last; a lower total is a reset and adds 0.
    """
    if bounds[1] - bounds[0] > 3600:
        hours = list(range(bounds[0], bounds[-1] + 1, 3600))
        per_hour, resets = used_per_interval(readings, hours)
        out = []
        for a, b in zip(bounds, bounds[1:], strict=False):
            out.append(sum(u for h, u in zip(hours, per_hour, strict=False) if a <= h < b))
        return out, resets
    before = [r for r in readings if r.ts_s <= bounds[0]]
    inside = [r for r in readings if bounds[0] < r.ts_s <= bounds[-1]]
    prev = before[-1].total_ml if before else (inside[0].total_ml if inside else None)
    used, resets = [], 0
    for a, b in zip(bounds, bounds[1:], strict=False):
        rs = [r for r in readings if a < r.ts_s <= b]
        u = 0
        if rs:
            if rs[-1].total_ml >= prev:
                u = rs[-1].total_ml - prev
            else:
                resets += 1
            prev = rs[-1].total_ml
        used.append(u)
    return used, resets


def peak_lpm(readings_by_meter: dict[str, list[Reading]], a: int, b: int) -> float | None:
    """Highest summed rate between consecutive readings ending in (a, b], L/min."""
    at: dict[int, float] = {}
    for rows in readings_by_meter.values():
        for r0, r1 in zip(rows, rows[1:], strict=False):
            if a < r1.ts_s <= b and r1.total_ml >= r0.total_ml:
                at[r1.ts_s] = at.get(r1.ts_s, 0.0) + (r1.total_ml - r0.total_ml) / 1000 / (
                    (r1.ts_s - r0.ts_s) / 60
                )
    return round(max(at.values()), 3) if at else None


def night_min_ml(
    readings_by_meter: dict[str, list[Reading]],
    zone: ZoneInfo,
    lo: int,
    hi: int,
    start_h: int = 2,
    end_h: int = 5,
) -> int | None:
    """Smallest summed use of a whole local night hour inside [lo, hi]."""
    totals = {m: {r.ts_s: r.total_ml for r in rows} for m, rows in readings_by_meter.items()}
    best = None
    for t in range(lo, hi, 3600):
        if start_h <= datetime.fromtimestamp(t, zone).hour < end_h and t + 3600 <= hi:
            uses = [tot[t + 3600] - tot[t] for tot in totals.values() if t in tot and t + 3600 in tot]
            if len(uses) == len(totals) and all(u >= 0 for u in uses):
                best = sum(uses) if best is None else min(best, sum(uses))
    return best
