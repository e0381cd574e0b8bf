"""Independent answers for usage tests: straight from the readings, written from the rule's words in
docs/consumption.md with no code shared with core.consumption, no store and no grid code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.readings import Reading

REVERSE_FLOW_MAX_ML = 50_000
MAX_FLOW_LPM = 1000.0


def _boot(r: Reading) -> int | None:
    return r.boot if r.source == "device" else None


def breaks(
    p: Reading, r: Reading, reverse_max_ml: int = REVERSE_FLOW_MAX_ML, max_lpm: float = MAX_FLOW_LPM
) -> bool:
    """Whether r starts a new segment after p: a drop with a new boot or beyond the reverse-flow limit,
    or a rise on a new boot faster than any meter passes."""
    new_boot = _boot(p) is not None and _boot(r) is not None and _boot(p) != _boot(r)
    drop = p.total_ml - r.total_ml
    rise = -drop
    return (drop > 0 and (new_boot or drop > reverse_max_ml)) or (
        new_boot and rise > 0 and rise / 1000 > max_lpm * (r.ts_s - p.ts_s) / 60
    )


def cumulative(rows: Sequence[Reading]) -> list[int]:
    """C at each reading: growth of each segment's running maximum, from 0 at the first."""
    out, c, top = [], 0, 0
    for i, r in enumerate(rows):
        if i == 0 or breaks(rows[i - 1], r):
            top = r.total_ml
        elif r.total_ml > top:
            c += r.total_ml - top
            top = r.total_ml
        out.append(c)
    return out


def used_per_interval(readings: list[Reading], bounds: list[int]) -> tuple[list[int], int]:
    """Use per (bounds[i], bounds[i+1]] counted from the anchor (the last reading <= bounds[0], else the
    first inside), and the segment breaks after the anchor."""
    rows = sorted({r.ts_s: r for r in readings}.values(), key=lambda r: r.ts_s)
    before = [r for r in rows if r.ts_s <= bounds[0]]
    seq = before[-1:] + [r for r in rows if bounds[0] < r.ts_s <= bounds[-1]]
    c = cumulative(seq)

    def c_at(t: int) -> int:
        idx = [k for k, r in enumerate(seq) if r.ts_s <= t]
        return c[idx[-1]] if idx else 0

    used = [c_at(b) - c_at(a) for a, b in zip(bounds, bounds[1:], strict=False)]
    n_breaks = sum(breaks(seq[k - 1], seq[k]) for k in range(1, len(seq)))
    return used, n_breaks


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
    """Smallest summed use of a whole local night hour inside [lo, hi] with readings at both its ends."""
    best = None
    for t in range(lo, hi, 3600):
        if start_h <= datetime.fromtimestamp(t, zone).hour < end_h and t + 3600 <= hi:
            uses = []
            for rows in readings_by_meter.values():
                times = {r.ts_s for r in rows}
                if t in times and t + 3600 in times:
                    uses.append(used_per_interval(rows, [lo, t, t + 3600])[0][1])
            if len(uses) == len(readings_by_meter):
                best = sum(uses) if best is None else min(best, sum(uses))
    return best
