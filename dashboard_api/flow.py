"""Per-meter usage grids and peak flow (L/min: the highest rate between consecutive readings).

Two sources with one answer. On InfluxDB the ingest stores each reading's flow since the
meter's previous reading (`flow_lpm`, docs/schema.md), so one request with a few statements
gives a meter's step totals, baseline and peak flow; readings stored before that field
existed fall back to `derivative()` inside InfluxDB. Any other Store: minute buckets.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Protocol

from dashboard_api.influxql import InfluxQL, regex_any
from dashboard_api.usage import MeterGrid, store_grid
from ingest.store.base import Bucket, Store
from ingest.store.lineproto import (
    FLOW_FIELD,
    HOUR_S,
    MEASUREMENT,
    ROLLUP_MEASUREMENT,
    ROLLUP_META,
    hour_of,
)

MINUTE_S = 60


class FlowSource(Protocol):
    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        """Each meter's usage grid over (b0, bn] in steps of step_s, in the order asked."""

    def max_flow_per_step(
        self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False
    ) -> dict[int, float]:
        """Highest summed flow (L/min) within each step (s, s+step] of [b0, bn], keyed by s.

        `stored`: every reading in range has its flow stored (the grids said so).
        """


class StoreFlows:
    """From minute buckets of any Store: flow = litres between readings / minutes between them."""

    def __init__(self, store: Store):
        self._store = store

    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        return [store_grid(self._store, m, b0, bn, step_s) for m in meters]

    def max_flow_per_step(
        self, meters: list[str], b0: int, bn: int, step_s: int, stored: bool = False
    ) -> dict[int, float]:
        flow_at: dict[int, float] = defaultdict(float)
        for meter in meters:
            prev_t = b0
            prev = self._store.last_at_or_before(meter, b0)
            for bucket in self._store.bucket_lasts(meter, b0, bn, MINUTE_S):
                t = bucket.start_s + MINUTE_S
                if prev is not None and bucket.total_ml >= prev:
                    flow_at[t] += (bucket.total_ml - prev) / 1000 / ((t - prev_t) / MINUTE_S)
                prev, prev_t = bucket.total_ml, t
        out: dict[int, float] = {}
        for t, lpm in flow_at.items():
            s = b0 + (t - 1 - b0) // step_s * step_s
            out[s] = max(out.get(s, 0.0), lpm)
        return out


def _q(meter: str) -> str:
    return meter.replace("\\", "\\\\").replace("'", "\\'")


# Meters whose grids go in one /query request (three statements each).
METERS_PER_REQUEST = 100
ROLLUP_RECHECK_S = 30.0  # how long "no roll-ups yet" is believed before asking again


def _replace_hour(grid: MeterGrid, b0: int, step_s: int, hour_s: int, total_ml: int, peak) -> MeterGrid:
    """The grid with the step holding hour_s ending on total_ml; its peak raised to `peak`.

    The hour is the meter's newest, so its last total is its step's last total; its roll-up, if
    any, covered a prefix of its readings, so the true peak is at least what the roll-up said.
    """
    start = b0 + (hour_s - b0) // step_s * step_s
    steps = [b for b in grid.steps if b.start_s != start]
    steps.append(Bucket(start, total_ml))
    steps.sort(key=lambda b: b.start_s)
    peaks = grid.peaks_lpm
    if peaks is not None:
        peaks = dict(peaks)
        rolled = peaks.pop(start, None)
        if step_s == HOUR_S:
            rolled = None  # the step is the hour itself: the readings' peak replaces the roll-up's
        best = max((p for p in (rolled, peak) if p is not None and p >= 0), default=None)
        if best is not None:
            peaks[start] = float(best)
    return MeterGrid(steps, grid.baseline_ml, grid.first_ml, peaks)


def rollup_fits(b0: int, step_s: int) -> bool:
    """Whether a grid from b0 in steps of step_s is made of whole roll-up hours."""
    return b0 % HOUR_S == 0 and step_s % HOUR_S == 0


class InfluxFlows:
    """Grids with stored flow in one request per 100 meters; derivative() for older readings.

    Hour-aligned grids (1h, 1d, 1mo in whole-hour zones) read the ingest's hourly roll-ups once
    the marker says every hour has one: 720 points for 30 days instead of 43,200 readings.
    """

    def __init__(self, client: InfluxQL):
        self._ql = client
        self._rollups_ready = False
        self._rollups_checked_at = float("-inf")

    def rollups_ready(self) -> bool:
        """The marker is present (checked again every ROLLUP_RECHECK_S while it is not)."""
        if self._rollups_ready:
            return True
        now = time.monotonic()
        if now - self._rollups_checked_at >= ROLLUP_RECHECK_S:
            self._rollups_checked_at = now
            self._rollups_ready = bool(self._ql.series(f'SELECT * FROM "{ROLLUP_META}" LIMIT 1'))
        return self._rollups_ready

    @staticmethod
    def grid_statements(meter: str, b0: int, bn: int, step_s: int, rollup: bool = False) -> list[str]:
        """Step lasts with peak flow, the baseline, the first reading and first stored flow in range.

        The benchmark sends these too. (count() per step would check every reading's flow, but
        it tripled the request's time; the first flow's time is checked instead.) With `rollup`
        (only when rollup_fits) the step lasts and peaks come from the hourly roll-ups.
        """
        where = f'FROM "{MEASUREMENT}" WHERE "meter"=\'{_q(meter)}\''
        rng = f"time > {b0}s AND time <= {bn}s"
        # GROUP BY time buckets are [t, t+step); offset by b0+1 they are (b0+k·step, b0+(k+1)·step].
        group = f"GROUP BY time({step_s}s, {(b0 + 1) % step_s}s) fill(none)"
        if rollup and step_s == HOUR_S:
            # Roll-up points are stamped H+1 for the hour (H, H+3600]: exactly the buckets wanted.
            steps = (
                f'SELECT "total_l", "peak_flow_lpm" FROM "{ROLLUP_MEASUREMENT}" '
                f"WHERE \"meter\"='{_q(meter)}' AND {rng}"
            )
        elif rollup:
            steps = (
                f'SELECT last("total_l"), max("peak_flow_lpm") FROM "{ROLLUP_MEASUREMENT}" '
                f"WHERE \"meter\"='{_q(meter)}' AND {rng} {group}"
            )
        else:
            steps = f'SELECT last("total_l"), max("{FLOW_FIELD}") {where} AND {rng} {group}'
        stmts = [
            steps,
            f'SELECT last("total_l") {where} AND time <= {b0}s',
            f'SELECT first("total_l") {where} AND {rng}',
            f'SELECT first("{FLOW_FIELD}") {where} AND {rng}',
        ]
        if rollup:
            # The meter's newest hour may not be rolled up yet (docs/schema.md): when it is the
            # range's last hour, its raw answer comes in the same request.
            stmts += [
                f'SELECT last("total_l") {where} AND time <= {bn}s',
                InfluxFlows.hour_statement(meter, bn - HOUR_S),
            ]
        return stmts

    @staticmethod
    def hour_statement(meter: str, hour_s: int) -> str:
        """Last total and peak flow of the readings in the hour (hour_s, hour_s + 3600]."""
        return (
            f'SELECT last("total_l"), max("{FLOW_FIELD}") FROM "{MEASUREMENT}" '
            f"WHERE \"meter\"='{_q(meter)}' AND time > {hour_s}s AND time <= {hour_s + HOUR_S}s"
        )

    def grids(self, meters: list[str], b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        out = []
        rollup = rollup_fits(b0, step_s) and self.rollups_ready()
        n = len(self.grid_statements("m", b0, bn, step_s, rollup))
        for i in range(0, len(meters), METERS_PER_REQUEST):
            chunk = meters[i : i + METERS_PER_REQUEST]
            stmts = [q for m in chunk for q in self.grid_statements(m, b0, bn, step_s, rollup)]
            res = self._ql.statements(stmts)
            grids = [self._grid(meter, b0, *res[n * k : n * k + 4]) for k, meter in enumerate(chunk)]
            if rollup:
                grids = self._with_open_hours(
                    chunk, grids, [res[n * k + 4 : n * k + 6] for k in range(len(chunk))], b0, bn, step_s
                )
            out += grids
        return out

    def _with_open_hours(self, meters, grids, answers, b0: int, bn: int, step_s: int) -> list[MeterGrid]:
        """Each grid with its meter's newest hour taken from the readings, not the roll-up.

        Every hour before a meter's newest reading has its final roll-up; the newest one is
        written only when a later reading closes it, so its roll-up may lag (a prefix of it).
        """
        opens: dict[int, tuple[int, list | None]] = {}  # grid index -> (hour, its raw answer or None)
        for k, (newest_res, last_hour_res) in enumerate(answers):
            if not newest_res:
                continue
            newest_t = int(newest_res[0][1][0][0])
            if newest_t <= b0:
                continue
            hour = hour_of(newest_t)
            opens[k] = (hour, last_hour_res if hour == bn - HOUR_S else None)
        missing = [k for k, (_h, raw) in opens.items() if raw is None]
        if missing:  # the meter fell silent before the range's last hour: one more request
            res = self._ql.statements([self.hour_statement(meters[k], opens[k][0]) for k in missing])
            for k, answer in zip(missing, res, strict=True):
                opens[k] = (opens[k][0], answer)
        for k, (hour, found) in opens.items():
            if found:
                _t, total_l, peak = found[0][1][0]
                grids[k] = _replace_hour(grids[k], b0, step_s, hour, round(total_l * 1000), peak)
        return grids

    def _grid(self, meter: str, b0: int, steps_res, before_res, first_res, flow_res) -> MeterGrid:
        steps, peaks = [], {}
        for _tags, rows in steps_res:
            for t, total_l, flow in rows:
                if total_l is None:
                    continue
                steps.append(Bucket(int(t) - 1, round(total_l * 1000)))
                if flow is not None and flow >= 0:  # a negative flow is a reset, not water
                    peaks[int(t) - 1] = float(flow)
        baseline = round(before_res[0][1][0][1] * 1000) if before_res else None
        first_t, first = (
            (int(first_res[0][1][0][0]), round(first_res[0][1][0][1] * 1000)) if first_res else (0, None)
        )
        flow_t = int(flow_res[0][1][0][0]) if flow_res else None
        return MeterGrid(
            steps,
            baseline,
            first,
            peaks if self._flow_complete(meter, b0, baseline, first_t, flow_t, steps) else None,
        )

    def _flow_complete(self, meter, b0, baseline, first_t, flow_t, steps) -> bool:
        """Whether every reading in range has a stored flow (the store writes it on all but a
        meter's first reading; readings without it were written before flow_lpm existed, so
        they come before the first that has it)."""
        if not steps:
            return True
        if flow_t is None:
            return False
        if flow_t == first_t:
            return True
        if baseline is not None:
            return False
        # The range holds the meter's first reading, which never has a flow: complete when the
        # first stored flow is on the very next reading (rare: one more small query).
        where = f'FROM "{MEASUREMENT}" WHERE "meter"=\'{_q(meter)}\''
        rows = self._ql.series(f'SELECT count("total_l") {where} AND time > {b0}s AND time < {flow_t}s')
        return bool(rows) and rows[0][1][0][1] == 1

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
        if not meters:
            return {}
        out = {}
        for _tags, rows in self._ql.series(self.query(meters, b0, bn, step_s, stored)):
            for t, v in rows:
                if v is not None and v >= 0:
                    out[int(t) - 1] = float(v)
        return out
