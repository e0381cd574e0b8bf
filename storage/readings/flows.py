"""Usage grids and peak flow for many meters at once (L/min: the highest rate between consecutive readings).

Two sources with one answer. On InfluxDB one request per 100 meters brings each meter's anchor
reading and either its readings (grids finer than an hour, or before roll-ups exist) or its hourly
span roll-ups (docs/schema.md), plus the readings of its newest hour, whose roll-up may lag. Peak flow
is the stored `flow_lpm`; readings stored before that field existed fall back to `derivative()`
inside InfluxDB. Any other Store: its contract's spans, and per-minute flows from its readings.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Protocol

from core.consumption import Mark, Span, combine, mark
from core.units import HOUR_S, MINUTE_S
from core.usage import MeterGrid
from storage.readings.base import Store, spans_by_step, step_of
from storage.readings.conn import InfluxConnection, Rows, quote, records, regex_any
from storage.readings.influx import MARK_FIELDS, marks_with_flows, reading_of
from storage.readings.lineproto import (
    FLOW_FIELD,
    MEASUREMENT,
    ROLLUP_FIELDS,
    ROLLUP_MEASUREMENT,
    ROLLUP_META,
    ROLLUP_VERSION,
    hour_of,
    span_of_text,
)
from storage.readings.usage import store_grid


class FlowSource(Protocol):
    """What the usage report needs of a store for a set of meters."""

    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        """Each meter's usage grid over (b0, bn] in steps of step_s, in the order asked."""

    def max_flow_per_step(
        self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False
    ) -> dict[int, float]:
        """Highest summed flow (L/min) within each step (s, s+step] of [b0, bn], keyed by s.

        `stored`: every reading in range has its flow stored (the grids said so).
        """


class StoreFlows:
    """From the Store contract: spans per step; flow = litres between readings / minutes between them."""

    def __init__(self, store: Store):
        self._store = store

    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        """Each meter's grid through the contract."""
        return [store_grid(self._store, m, b0, bn, step_s) for m in meters]

    def max_flow_per_step(
        self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False
    ) -> dict[int, float]:
        """Per minute, each meter's flow since its previous minute with readings, summed over meters."""
        flow_at: dict[int, float] = defaultdict(float)
        for meter in meters:
            anchor = self._store.last_reading(meter, b0)
            prev_t, prev = b0, None if anchor is None else anchor.total_ml
            lasts: dict[int, int] = {}
            for r in self._store.readings(meter, b0, bn):
                lasts[step_of(r.ts_s, b0, MINUTE_S) + MINUTE_S] = r.total_ml
            for t in sorted(lasts):
                total = lasts[t]
                if prev is not None and total >= prev:
                    flow_at[t] += (total - prev) / 1000 / ((t - prev_t) / MINUTE_S)
                prev, prev_t = total, t
        out: dict[int, float] = {}
        for t, lpm in flow_at.items():
            s = step_of(t, b0, step_s)
            out[s] = max(out.get(s, 0.0), lpm)
        return out


# Meters whose grids go in one /query request.
METERS_PER_REQUEST = 100
ROLLUP_RECHECK_S = 30.0  # how long "no roll-ups yet" is believed before asking again


def rollup_fits(b0: int, step_s: int) -> bool:
    """Whether a grid from b0 in steps of step_s is made of whole roll-up hours."""
    return b0 % HOUR_S == 0 and step_s % HOUR_S == 0


def _where(meter: str) -> str:
    return f'FROM "{MEASUREMENT}" WHERE "meter"=\'{quote(meter)}\''


def _first_value(rows: Rows) -> tuple[int, float | None] | None:
    for _tags, _cols, vals in rows:
        for row in vals:
            return int(row[0]), row[1]
    return None


def _newest_ts(rows: Rows) -> int:
    found = _first_value(rows)
    assert found is not None
    return found[0]


class InfluxFlows:
    """Grids in one request per 100 meters; hourly span roll-ups for whole-hour grids once complete."""

    def __init__(self, conn: InfluxConnection):
        self._ql = conn
        self._rollups_ready = False
        self._rollups_checked_at = float("-inf")

    def rollups_ready(self) -> bool:
        """The version-2 marker is present (checked again every ROLLUP_RECHECK_S while it is not)."""
        if self._rollups_ready:
            return True
        now = time.monotonic()
        if now - self._rollups_checked_at >= ROLLUP_RECHECK_S:
            self._rollups_checked_at = now
            rows = self._ql.series(f'SELECT max("version") FROM "{ROLLUP_META}"')
            self._rollups_ready = bool(rows and rows[0][2] and (rows[0][2][0][1] or 0) >= ROLLUP_VERSION)
        return self._rollups_ready

    @staticmethod
    def anchor_statement(meter: str, b0: int) -> str:
        """The meter's last reading at or before b0, with the fields the rule needs."""
        return (
            f'SELECT last("total_l") AS total_l, "seq", "boot", "source", "confidence" {_where(meter)} '
            f"AND time <= {b0}s"
        )

    @staticmethod
    def readings_statement(meter: str, lo: int, hi: int) -> str:
        """The meter's readings in (lo, hi] with their stored flows."""
        return f"SELECT {MARK_FIELDS} {_where(meter)} AND time > {lo}s AND time <= {hi}s"

    @staticmethod
    def grid_statements(meter: str, b0: int, bn: int, step_s: int, rollup: bool = False) -> list[str]:
        """The statements of one meter's grid (the benchmark sends these too).

        Without roll-ups: the anchor and the readings. With roll-ups (only when rollup_fits): the hour
        spans, the anchor, the first reading and first stored flow in range (is every reading's flow
        stored?), the newest reading, and the readings of the range's last hour (the meter's newest
        hour's roll-up may lag: docs/schema.md).
        """
        if not rollup:
            return [InfluxFlows.readings_statement(meter, b0, bn), InfluxFlows.anchor_statement(meter, b0)]
        rng = f"time > {b0}s AND time <= {bn}s"
        return [
            f'SELECT {ROLLUP_FIELDS} FROM "{ROLLUP_MEASUREMENT}" WHERE "meter"=\'{quote(meter)}\' AND {rng}',
            InfluxFlows.anchor_statement(meter, b0),
            f'SELECT first("total_l") {_where(meter)} AND {rng}',
            f'SELECT first("{FLOW_FIELD}") {_where(meter)} AND {rng}',
            f'SELECT last("total_l") {_where(meter)} AND time <= {bn}s',
            InfluxFlows.readings_statement(meter, bn - HOUR_S, bn),
        ]

    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        """Each meter's grid, 100 meters per request."""
        out: list[MeterGrid] = []
        rollup = rollup_fits(b0, step_s) and self.rollups_ready()
        n = len(self.grid_statements("m", b0, bn, step_s, rollup))
        for i in range(0, len(meters), METERS_PER_REQUEST):
            chunk = meters[i : i + METERS_PER_REQUEST]
            res = self._ql.statements(
                [q for m in chunk for q in self.grid_statements(m, b0, bn, step_s, rollup)]
            )
            answers = [res[n * k : n * (k + 1)] for k in range(len(chunk))]
            if rollup:
                out += self._rollup_grids(chunk, answers, b0, bn, step_s)
            else:
                out += [
                    self._raw_grid(m, a[0], a[1], b0, step_s) for m, a in zip(chunk, answers, strict=True)
                ]
        return out

    @staticmethod
    def _anchor(meter: str, rows: Rows) -> Span | None:
        found = [reading_of(meter, f) for _tags, f in records(rows) if f.get("total_l") is not None]
        return Span.of(mark(found[0])) if found else None

    def _raw_grid(self, meter: str, readings_res: Rows, anchor_res: Rows, b0: int, step_s: int) -> MeterGrid:
        pairs = marks_with_flows(readings_res)
        anchor = self._anchor(meter, anchor_res)
        triples = spans_by_step(pairs, b0, step_s)
        # Every reading has its flow but a meter's very first (no anchor): else the flows are older data.
        missing = sum(flow is None for _r, flow in pairs)
        complete = missing == 0 or (missing == 1 and anchor is None and pairs[0][1] is None)
        peaks = {s: p for s, _span, p in triples if p is not None and p >= 0} if complete else None
        return MeterGrid([(s, span) for s, span, _p in triples], anchor, peaks)

    def _rollup_grids(
        self, meters: list[str], answers: list[list[Rows]], b0: int, bn: int, step_s: int
    ) -> list[MeterGrid]:
        hours_by_meter: list[dict[int, tuple[Span, float | None]]] = []
        redo: list[int] = []  # meters whose roll-ups lack span fields: read their readings instead
        opens: dict[int, tuple[int, list[tuple[Mark, float | None]]] | None] = {}
        for k, a in enumerate(answers):
            spans_res, _anchor_res, _first_res, _flow_res, newest_res, last_hour_res = a
            hours: dict[int, tuple[Span, float | None]] = {}
            span_rows = [row for _tags, _cols, values in spans_res for row in values]
            for row in span_rows:
                span = span_of_text(row[1])
                if span is None:
                    redo.append(k)
                    break
                peak = row[-1]
                hours[int(row[0]) - 1] = (span, None if peak is None else float(peak))
            hours_by_meter.append(hours)
            newest = _first_value(newest_res)
            if newest is None or newest[0] <= b0:
                continue
            hour = hour_of(newest[0])
            opens[k] = (hour, marks_with_flows(last_hour_res)) if hour == bn - HOUR_S else None
        missing = [k for k, v in opens.items() if v is None]
        if missing:  # the meter fell silent before the range's last hour: one more request
            newest_hour = {k: hour_of(_newest_ts(answers[k][4])) for k in missing}
            res = self._ql.statements(
                [self.readings_statement(meters[k], newest_hour[k], newest_hour[k] + HOUR_S) for k in missing]
            )
            for k, rows in zip(missing, res, strict=True):
                opens[k] = (newest_hour[k], marks_with_flows(rows))
        out = []
        for k, (meter, a) in enumerate(zip(meters, answers, strict=True)):
            hours = hours_by_meter[k]
            opened = opens.get(k)
            if opened is not None and opened[1]:
                hour, pairs = opened
                triples = spans_by_step(pairs, hour, HOUR_S)
                hours[hour] = (triples[0][1], triples[0][2])
            steps: list[tuple[int, Span]] = []
            peaks: dict[int, float] = {}
            for h in sorted(hours):
                span, peak = hours[h]
                s = b0 + (h - b0) // step_s * step_s
                if steps and steps[-1][0] == s:
                    joined = combine(steps[-1][1], span)
                    assert joined is not None
                    steps[-1] = (s, joined)
                else:
                    steps.append((s, span))
                if peak is not None and peak >= 0:
                    peaks[s] = max(peaks.get(s, peak), peak)
            anchor = self._anchor(meter, a[1])
            first = _first_value(a[2])
            flow = _first_value(a[3])
            complete = self._flow_complete(meter, b0, anchor, first, flow, bool(steps))
            out.append(MeterGrid(steps, anchor, peaks if complete else None))
        if redo:
            res = self._ql.statements(
                [q for k in redo for q in self.grid_statements(meters[k], b0, bn, step_s, rollup=False)]
            )
            for j, k in enumerate(redo):
                out[k] = self._raw_grid(meters[k], res[2 * j], res[2 * j + 1], b0, step_s)
        return out

    def _flow_complete(
        self,
        meter: str,
        b0: int,
        anchor: Span | None,
        first: tuple[int, float | None] | None,
        flow: tuple[int, float | None] | None,
        has_steps: bool,
    ) -> bool:
        """Whether every reading in range has a stored flow (the store writes it on all but a meter's
        first reading; readings without it were written before flow_lpm existed, so they come before
        the first that has it)."""
        if not has_steps or first is None:
            return True
        if flow is None:
            return False
        if flow[0] == first[0]:
            return True
        if anchor is not None:
            return False
        # The range holds the meter's first reading, which never has a flow: complete when the
        # first stored flow is on the very next reading (rare: one more small query).
        rows = self._ql.series(
            f'SELECT count("total_l") {_where(meter)} AND time > {b0}s AND time < {flow[0]}s'
        )
        return bool(rows) and rows[0][2][0][1] == 1

    def query(self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False) -> str:
        """The InfluxQL statement: summed stored flow, or derivative() for older readings."""
        rng = f"time > {b0}s AND time <= {bn}s"
        if stored:
            summed = (
                f'SELECT sum("{FLOW_FIELD}") AS f FROM "{MEASUREMENT}" WHERE "meter" =~ {regex_any(meters)} '
                f"AND {rng} GROUP BY time(60s, {(b0 + 1) % 60}s)"
            )
            return (
                f"SELECT max(f) FROM ({summed}) WHERE {rng} "
                f"GROUP BY time({step_s}s, {(b0 + 1) % step_s}s) fill(none)"
            )
        # The point before b0 (up to an hour back) gives the first in-range reading its rate.
        inner = (
            f'SELECT derivative("total_l", 1m) AS d FROM "{MEASUREMENT}" '
            f'WHERE "meter" =~ {regex_any(meters)} '
            f'AND time > {b0 - 3600}s AND time <= {bn}s GROUP BY "meter"'
        )
        if len(meters) == 1:
            return (
                f"SELECT max(d) FROM ({inner}) WHERE {rng} "
                f"GROUP BY time({step_s}s, {(b0 + 1) % step_s}s) fill(none)"
            )
        summed = f"SELECT sum(d) AS f FROM ({inner}) WHERE {rng} GROUP BY time(60s, {(b0 + 1) % 60}s)"
        return (
            f"SELECT max(f) FROM ({summed}) WHERE {rng} "
            f"GROUP BY time({step_s}s, {(b0 + 1) % step_s}s) fill(none)"
        )

    def max_flow_per_step(
        self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False
    ) -> dict[int, float]:
        """Highest summed flow per step, from InfluxDB."""
        if not meters:
            return {}
        out = {}
        for _tags, _cols, rows in self._ql.series(self.query(meters, b0, bn, step_s, stored)):
            for t, v in rows:
                if v is not None and v >= 0:
                    out[int(t) - 1] = float(v)
        return out
