"""The store contract every backend passes (tests/storage/test_store_contract.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from core.consumption import DEFAULT_RULE, Mark, Rule, Span, combine
from core.errors import Unavailable
from core.readings import Reading, Rejection

INFLUX_SCHEMES = {"influx": 1, "influx1": 1, "influxdb": 1, "influx2": 2, "influx3": 3}
STORE_SCHEMES = frozenset({*INFLUX_SCHEMES, "sqlite"})


class StoreError(Unavailable):
    """The store did not confirm a write or answer a query (the message may hold backend text)."""


@dataclass(frozen=True, slots=True, order=True)
class MeterSummary:
    """A meter and its newest reading."""

    meter: str
    last_ts_s: int
    last_total_ml: int


class Store(Protocol):
    """Where readings live. Writing a reading twice keeps one (identity: meter + ts)."""

    def write_readings(self, readings: list[Reading]) -> None:
        """Write and confirm; raises StoreError when the store did not confirm."""

    def write_rejections(self, rejections: list[Rejection]) -> None:
        """Keep rejected messages in the dead-letter store."""

    def rejections(
        self, limit: int = 100, reason: str | None = None, meter: str | None = None
    ) -> list[Rejection]:
        """Most recent rejected messages, newest first; only of one reason and/or one meter if given."""

    def stored_totals(self, wanted: dict[str, list[int]]) -> dict[tuple[str, int], int]:
        """The stored total (ml) at each asked (meter, ts) that has a reading (the ingest's rare path)."""

    def write_late(self, readings: list[Reading]) -> dict:
        """write_readings for readings that may land before stored ones; what it rebuilt (may be empty)."""

    def is_empty(self) -> bool:
        """Whether no reading is stored yet."""

    def meters(self) -> list[MeterSummary]:
        """Every meter with its latest reading."""

    def last_reading(self, meter: str, t_s: int) -> Reading | None:
        """The latest reading at or before t_s (the anchor of a usage query)."""

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        """Every stored reading of a meter with start_s < ts <= stop_s, in time order."""

    def step_spans(
        self, meter: str, start_s: int, stop_s: int, step_s: int
    ) -> list[tuple[int, Span, float | None]]:
        """Per step (start+k·step, start+(k+1)·step] holding readings: (step start, span, peak L/min)."""

    def count_readings(self, meter: str) -> int:
        """Distinct stored readings of a meter."""

    def count_all_readings(self) -> int:
        """Distinct stored readings of every meter."""

    def close(self) -> None:
        """Release connections."""


def flow_lpm(prev_ts_s: int, prev_total_ml: int, ts_s: int, total_ml: int) -> float:
    """Litres per minute since the previous reading (negative across a reset)."""
    return (total_ml - prev_total_ml) / 1000 / ((ts_s - prev_ts_s) / 60)


def step_of(ts_s: int, start_s: int, step_s: int) -> int:
    """Start of the step (start+k·step, start+(k+1)·step] holding ts_s."""
    return start_s + (ts_s - start_s - 1) // step_s * step_s


def spans_by_step(
    marks: Iterable[tuple[Mark, float | None]], start_s: int, step_s: int, rule: Rule = DEFAULT_RULE
) -> list[tuple[int, Span, float | None]]:
    """(step start, span, peak flow) per step from readings in time order with their flows (L/min)."""
    out: list[tuple[int, Span, float | None]] = []
    cur_start: int | None = None
    acc: Span | None = None
    peak: float | None = None
    for m, flow in marks:
        s = step_of(m.ts_s, start_s, step_s)
        if s != cur_start:
            if acc is not None and cur_start is not None:
                out.append((cur_start, acc, peak))
            cur_start, acc, peak = s, None, None
        acc = combine(acc, Span.of(m), rule)
        if flow is not None:
            peak = flow if peak is None else max(peak, flow)
    if acc is not None and cur_start is not None:
        out.append((cur_start, acc, peak))
    return out
