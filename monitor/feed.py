"""Minute use for the leak detector, read fleet-wide in batches and folded by the one consumption rule.

The monitor does not ask the store meter by meter: one statement per poll brings every meter's new
readings (`FleetReadings.since`), and a per-meter `MinuteFolder` turns them into litres per minute with
`core.consumption` (a reading's use belongs to the minute (t, t+60] that holds it; a minute is complete
once the meter has a reading after it, so no clock is trusted). Meters new to the monitor, and meters
whose readings arrived too late for the fleet window, are read one by one, a bounded number per poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from core.consumption import DEFAULT_RULE, Mark, Rule, Span, combine, mark
from core.units import MINUTE_S, ML_PER_L
from storage.readings.base import MeterSummary, Store
from storage.readings.conn import InfluxConnection
from storage.readings.influx import MARK_FIELDS, InfluxStore, marks_with_flows
from storage.readings.lineproto import MEASUREMENT


class FleetReadings(Protocol):
    """What the monitor reads: the fleet's new readings in one go, and one meter's when it must."""

    def meters(self) -> list[MeterSummary]:
        """Every meter with its newest reading."""

    def since(self, start_s: int) -> dict[str, list[Mark]]:
        """Every meter's readings with ts > start_s, in time order, keyed by meter."""

    def meter_since(self, meter: str, start_s: int, stop_s: int) -> list[Mark]:
        """One meter's readings in (start_s, stop_s], in time order."""

    def anchor(self, meter: str, t_s: int) -> Mark | None:
        """One meter's last reading at or before t_s."""


class StoreReadings:
    """Through the Store contract (any backend; the fleet view asks each meter: for small stores)."""

    def __init__(self, store: Store):
        self.store = store

    def meters(self) -> list[MeterSummary]:
        """The store's meter list."""
        return self.store.meters()

    def since(self, start_s: int) -> dict[str, list[Mark]]:
        """Each meter's readings after start_s (one query per meter with newer readings)."""
        out: dict[str, list[Mark]] = {}
        for m in self.store.meters():
            if m.last_ts_s > start_s:
                out[m.meter] = [mark(r) for r in self.store.readings(m.meter, start_s, m.last_ts_s)]
        return out

    def meter_since(self, meter: str, start_s: int, stop_s: int) -> list[Mark]:
        """One meter's readings."""
        return [mark(r) for r in self.store.readings(meter, start_s, stop_s)]

    def anchor(self, meter: str, t_s: int) -> Mark | None:
        """One meter's anchor reading."""
        r = self.store.last_reading(meter, t_s)
        return None if r is None else mark(r)


class InfluxReadings(StoreReadings):
    """On InfluxDB: one statement for the whole fleet's new readings (GROUP BY meter)."""

    def __init__(self, store: InfluxStore):
        super().__init__(store)
        self.conn: InfluxConnection = store.conn

    def since(self, start_s: int) -> dict[str, list[Mark]]:
        """Every meter's readings after start_s in one request."""
        rows = self.conn.series(
            f'SELECT {MARK_FIELDS} FROM "{MEASUREMENT}" WHERE time > {int(start_s)}s GROUP BY "meter"'
        )
        out: dict[str, list[Mark]] = {}
        for series in rows:
            marks = [m for m, _flow in marks_with_flows([series])]
            if marks:
                out.setdefault(series[0]["meter"], []).extend(marks)
        return out


def fleet_readings(store: Store) -> FleetReadings:
    """The batched reader for a store: fleet-wide statements on InfluxDB, the contract otherwise."""
    if isinstance(store, InfluxStore):
        return InfluxReadings(store)
    return StoreReadings(store)


@dataclass(slots=True)
class MinuteFolder:
    """One meter's position in its readings: the last one folded and the minute it is filling.

    `anchor` carries the segment's running maximum (a Span), so reverse flow held back before a poll
    is still held back after it: the minutes add up to the one rule's answer over any batching.
    """

    anchor: Span | None = None
    bucket_s: int | None = None  # start of the minute (t, t+60] being filled
    bucket_ml: int = 0

    @property
    def last_ts_s(self) -> int | None:
        """Time of the last reading folded."""
        return None if self.anchor is None else self.anchor.last.ts_s

    def fold(self, marks: Iterable[Mark], rule: Rule = DEFAULT_RULE) -> list[tuple[int, float]]:
        """Take readings in time order (older ones than the last folded are skipped); return the
        (minute start, litres) of every minute completed by them."""
        out: list[tuple[int, float]] = []
        for m in marks:
            if self.anchor is not None and m.ts_s <= self.anchor.last.ts_s:
                continue
            one = Span.of(m)
            joined: Span = one
            used = 0
            if self.anchor is not None:
                both = combine(self.anchor, one, rule)
                assert both is not None
                joined, used = both, both.used_ml - self.anchor.used_ml
            bucket = (m.ts_s - 1) // MINUTE_S * MINUTE_S
            if self.bucket_s is not None and bucket != self.bucket_s:
                out.append((self.bucket_s, self.bucket_ml / ML_PER_L))
                self.bucket_ml = 0
            self.bucket_s = bucket
            self.bucket_ml += used
            # Keep only what the next reading needs: the last reading and its segment's running maximum.
            self.anchor = Span(m, m, joined.tail_max_ml, 0, joined.tail_max_ml, 1, 1)
        return out

    def to_list(self) -> list:
        """JSON-safe form."""
        a = self.anchor
        mark = None if a is None else [a.last.ts_s, a.last.total_ml, a.last.boot, a.tail_max_ml]
        return [mark, self.bucket_s, self.bucket_ml]

    @classmethod
    def from_list(cls, data: list) -> MinuteFolder:
        """Inverse of to_list."""
        mark, bucket_s, bucket_ml = data
        anchor = None
        if mark is not None:
            m = Mark(int(mark[0]), int(mark[1]), None if mark[2] is None else int(mark[2]))
            anchor = Span(m, m, int(mark[3]), 0, int(mark[3]), 1, 1)
        return cls(anchor, None if bucket_s is None else int(bucket_s), int(bucket_ml))
