"""Writing a home's history into the readings store, in the store's own line formats.

InfluxDB: every hour's span roll-up (`usage_1h`) for the whole history and the minute readings of the
recent days go in first; `backfill` writes the older minute readings afterwards, newest day first. The
roll-ups come from the very readings the backfill writes, so every path agrees before and after.
The embedded SQLite store has no roll-ups: its older history is one reading per hour (the same register
totals at every hour mark, so hourly and coarser use is identical), minutes for the recent days only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from core.consumption import Span
from core.readings import Reading
from core.units import HOUR_S, MINUTE_S
from devservices.seed.history import BOOT, Register
from storage.readings.base import Store
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import marker_line, reading_line, rollup_line

LINES_PER_WRITE = 20_000


@dataclass(frozen=True)
class Window:
    """Readings k in [lo, hi) of a register."""

    lo: int
    hi: int


def recent_window(reg: Register, minute_days: float) -> Window:
    """The readings of the last `minute_days` days (written before the API starts)."""
    n = len(reg.totals_ml)
    return Window(max(0, n - int(minute_days * 86400 // MINUTE_S)), n)


def minute_lines(reg: Register, window: Window) -> Iterator[str]:
    """Line protocol of readings [lo, hi) with their flow since the reading before (L/min)."""
    totals = reg.totals_ml.tolist()
    for k in range(window.lo, window.hi):
        flow = None if k == 0 else (totals[k] - totals[k - 1]) / 1000.0
        yield reading_line(Reading(reg.meter_id, reg.ts(k), totals[k], k + 1, BOOT), flow)


def rollup_lines(meter_id: str, spans: list[tuple[int, Span, float | None]]) -> Iterator[str]:
    """Line protocol of every hour's roll-up."""
    for hour, span, peak in spans:
        yield rollup_line(meter_id, hour, span, peak)


def write_lines(store: InfluxStore, lines: Iterator[str]) -> int:
    """Write in batches; the number of lines written."""
    batch: list[str] = []
    n = 0
    for line in lines:
        batch.append(line)
        if len(batch) >= LINES_PER_WRITE:
            store.write_lines(batch)
            n += len(batch)
            batch = []
    store.write_lines(batch)
    return n + len(batch)


def write_influx(
    store: InfluxStore, reg: Register, spans: list[tuple[int, Span, float | None]], window: Window
) -> int:
    """Roll-ups of the whole history, then the recent minute readings; lines written."""
    return write_lines(store, rollup_lines(reg.meter_id, spans)) + write_lines(
        store, minute_lines(reg, window)
    )


def write_marker(store: InfluxStore, now_s: int) -> None:
    """Say every hour of `reading` has its span roll-up (the usage API then reads roll-ups)."""
    store.write_lines([marker_line(now_s)])


def embedded_readings(reg: Register, window: Window) -> list[Reading]:
    """For a store without roll-ups: one reading per hour mark before the window, every minute in it."""
    totals = reg.totals_ml.tolist()
    per_hour = HOUR_S // MINUTE_S
    first_mark = (-(reg.origin_s % HOUR_S) // MINUTE_S) % per_hour  # the first reading on an hour mark
    keep = [
        *range(0, min(first_mark, window.lo)),
        *range(first_mark, window.lo, per_hour),
        *range(window.lo, window.hi),
    ]
    return [Reading(reg.meter_id, reg.ts(k), totals[k], k + 1, BOOT) for k in sorted(set(keep))]


def write_embedded(store: Store, reg: Register, window: Window) -> int:
    """Write the embedded store's readings of a home; readings written."""
    readings = embedded_readings(reg, window)
    for i in range(0, len(readings), LINES_PER_WRITE):
        store.write_readings(readings[i : i + LINES_PER_WRITE])
    return len(readings)
