"""Checks on a reading a resident confirms or types for a photo: the photo's candidates, the meter's history.

A value passes when it fits the readings around the photo (not below the one before, not more than
the usage bound above it; not above the one after, not more than the bound below it) and either is
one of the photo's candidates (the recognised value or one of the reader's alternatives, to one unit
of the last wheel), or the readings leave it little room: it lies between two readings, or the one
before is so recent that the usage bound allows at most `max_room_m3` more. Otherwise an operator
decides, seeing both values; nothing is stored until then.

Why not the usage bound alone: a year after the last reading it allows thousands of m3, and a value
typed far too high turns every later true reading into a register reset that loses real use.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocr_reader.api import check_plausibility
from storage.readings.base import Store

ML_PER_M3 = 1_000_000
LOOK_AHEAD_S = 86_400  # the reading after the photo is looked for within a day
MIN_UNIT_M3 = 0.001  # one litre: no register shows less


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The meter's readings just before (at or before) and just after the photo's time."""

    prev_m3: float | None = None
    prev_ts_s: int | None = None
    next_m3: float | None = None
    next_ts_s: int | None = None


def neighbours(store: Store, meter_id: str, ts_s: int) -> Neighbours:
    """The readings around `ts_s` (the one after only if within a day)."""
    before = store.last_reading(meter_id, ts_s)
    after = store.readings(meter_id, ts_s, ts_s + LOOK_AHEAD_S)
    nxt = after[0] if after else None
    return Neighbours(
        None if before is None else before.total_ml / ML_PER_M3,
        None if before is None else before.ts_s,
        None if nxt is None else nxt.total_ml / ML_PER_M3,
        None if nxt is None else nxt.ts_s,
    )


def unit_m3(reading: str | None) -> float:
    """One unit of the last wheel of a reading as shown ("01189.45": 0.01 m3), at least one litre."""
    if not reading or "." not in reading:
        return 1.0 if reading else MIN_UNIT_M3
    return max(MIN_UNIT_M3, 10.0 ** -len(reading.split(".", 1)[1]))


def candidates_of(value_m3: float | None, alternatives: list[dict]) -> list[float]:
    """The recognised value, then the reader's alternatives, without repeats."""
    out: list[float] = []
    for v in [value_m3, *(a.get("value_m3") for a in alternatives)]:
        if isinstance(v, int | float) and v >= 0 and v not in out:
            out.append(float(v))
    return out


def check_correction(
    value_m3: float,
    candidates_m3: list[float],
    unit: float,
    around: Neighbours,
    ts_s: int,
    max_flow_m3_per_h: float,
    max_room_m3: float,
) -> str | None:
    """None when a resident's value may be stored; else why an operator must decide."""
    if around.prev_m3 is not None and around.prev_ts_s is not None:
        p = check_plausibility(value_m3, around.prev_m3, max(ts_s - around.prev_ts_s, 0), max_flow_m3_per_h)
        if not p.ok:
            return p.reason
    if around.next_m3 is not None and around.next_ts_s is not None:
        p = check_plausibility(around.next_m3, value_m3, max(around.next_ts_s - ts_s, 0), max_flow_m3_per_h)
        if not p.ok:
            return "above_next_reading" if p.reason == "lower_than_previous" else "below_next_reading_bound"
    if any(abs(value_m3 - c) <= unit + 1e-9 for c in candidates_m3):
        return None
    if around.prev_m3 is not None and around.next_m3 is not None:
        return None  # pinned between two readings it fits
    if (
        around.prev_ts_s is not None
        and max_flow_m3_per_h * max(ts_s - around.prev_ts_s, 0) / 3600 <= max_room_m3
    ):
        return None  # the reading before is recent enough to leave only a little room
    return "not_a_candidate" if candidates_m3 else "no_history"
