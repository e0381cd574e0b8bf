"""Peak flow (L/min): the highest rate between consecutive readings, summed over the meters asked.

Two sources with one answer: InfluxQL's `derivative()` computed inside InfluxDB (fast: no
minute rows cross the wire), or minute buckets from any Store (SQLite, tests, fallback).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from dashboard_api.influxql import InfluxQL, regex_any
from ingest.store.base import Store
from ingest.store.lineproto import MEASUREMENT

MINUTE_S = 60


class FlowSource(Protocol):
    def max_flow_per_step(self, meters: list[str], b0: int, bn: int, step_s: int) -> dict[int, float]:
        """Highest summed flow (L/min) within each step (s, s+step] of [b0, bn], keyed by s."""


class StoreFlows:
    """From minute buckets of any Store: flow = litres between readings / minutes between them."""

    def __init__(self, store: Store):
        self._store = store

    def max_flow_per_step(self, meters: list[str], b0: int, bn: int, step_s: int) -> dict[int, float]:
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


class InfluxFlows:
    """derivative(total_l, 1m) per meter, summed per minute, max per step: one InfluxQL query."""

    def __init__(self, client: InfluxQL):
        self._ql = client

    def query(self, meters: list[str], b0: int, bn: int, step_s: int) -> str:
        """The InfluxQL statement (the benchmark sends it straight to InfluxDB too)."""
        # The point before b0 (up to an hour back) gives the first in-range reading its rate.
        inner = (
            f'SELECT derivative("total_l", 1m) AS d FROM "{MEASUREMENT}" '
            f'WHERE "meter" =~ {regex_any(meters)} '
            f'AND time > {b0 - 3600}s AND time <= {bn}s GROUP BY "meter"'
        )
        # GROUP BY time buckets are [t, t+step); offset by b0+1 they are (b0+k·step, b0+(k+1)·step].
        rng = f"time > {b0}s AND time <= {bn}s"
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

    def max_flow_per_step(self, meters: list[str], b0: int, bn: int, step_s: int) -> dict[int, float]:
        if not meters:
            return {}
        out = {}
        for _tags, rows in self._ql.series(self.query(meters, b0, bn, step_s)):
            for t, v in rows:
                if v is not None and v >= 0:
                    out[int(t) - 1] = float(v)
        return out
