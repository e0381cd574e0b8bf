"""InfluxStore keeps each reading's flow since the meter's previous reading (flow_lpm), exactly."""

from __future__ import annotations

import pytest

from core.readings import Reading
from storage.readings.base import flow_lpm
from storage.readings.conn import records
from storage.readings.influx import InfluxStore

T0 = 1_764_000_000


def stored_flows(store: InfluxStore, meter: str) -> dict[int, float]:
    res = store.conn.series(f'SELECT "flow_lpm" FROM "reading" WHERE "meter"=\'{meter}\'')
    return {int(f["time"]): f["flow_lpm"] for _tags, f in records(res) if f["flow_lpm"] is not None}


def expected(readings: list[Reading]) -> dict[int, float]:
    rows = sorted(readings, key=lambda r: r.ts_s)
    return {
        b.ts_s: flow_lpm(a.ts_s, a.total_ml, b.ts_s, b.total_ml) for a, b in zip(rows, rows[1:], strict=False)
    }


def test_in_order_batches_store_flow_against_the_previous_reading(influx_store):
    rows = [Reading("m-a", T0 + 60 * k, 1_000 * k * k, k, 1) for k in range(6)]
    influx_store.write_readings(rows[:3])
    influx_store.write_readings(rows[3:])  # predecessor from the cache (seq follows)
    assert stored_flows(influx_store, "m-a") == pytest.approx(expected(rows))
    assert 0 + T0 not in stored_flows(influx_store, "m-a")  # a meter's first reading has no flow


def test_gap_filled_late_rewrites_the_flow_after_it(influx_store):
    rows = [Reading("m-b", T0 + 60 * k, 500 * k + (3_000 if k >= 3 else 0), k, 1) for k in range(6)]
    late = rows[2:4]
    influx_store.write_readings(rows[:2] + rows[4:])  # seqs 2, 3 missing: flow of 4 spans 3 minutes
    assert stored_flows(influx_store, "m-b")[T0 + 240] == pytest.approx((5_000 - 500) / 1000 / 3)
    influx_store.write_readings(late)
    assert stored_flows(influx_store, "m-b") == pytest.approx(expected(rows))
    assert influx_store.count_readings("m-b") == 6  # the rewrite added no reading


def test_a_second_store_on_the_same_database_looks_the_neighbours_up(influx, influx_store):
    rows = [Reading("m-c", T0 + 60 * k, 250 * k * k, k, 1) for k in range(5)]
    influx_store.write_readings(rows[:2])
    other = InfluxStore.at(influx.url, influx_store.database)
    try:
        other.write_readings(rows[3:])  # never saw this meter: the stored predecessor is seq 1
        assert stored_flows(influx_store, "m-c")[T0 + 180] == pytest.approx((2_250 - 250) / 1000 / 2)
        other.write_readings(rows[2:3])  # older than its newest: seq 3's flow is rewritten
    finally:
        other.close()
    assert stored_flows(influx_store, "m-c") == pytest.approx(expected(rows))


def test_reset_stores_a_negative_flow_and_redelivery_changes_nothing(influx_store):
    rows = [Reading("m-d", T0, 9_000, 0, 1), Reading("m-d", T0 + 60, 100, 0, 2)]
    influx_store.write_readings(rows)
    influx_store.write_readings(rows)  # a redelivered batch
    assert stored_flows(influx_store, "m-d") == pytest.approx({T0 + 60: -8.9})
    assert influx_store.readings("m-d", T0 - 1, T0 + 60) == rows
