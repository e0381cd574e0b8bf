"""The hourly roll-ups (usage_1h) always equal what the stored readings say, however batches arrive."""

from __future__ import annotations

import random

import httpx
import pytest

from core.consumption import Span, fold_marks, mark
from core.readings import Reading
from ingest.rollup import backfill
from storage.readings.base import flow_lpm
from storage.readings.conn import InfluxConnection, records
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import hour_of, reading_line, span_of_text

T0 = 1_764_001_234  # not on an hour: batches straddle hour boundaries


def stored_rollups(store: InfluxStore) -> dict[tuple[str, int], tuple[Span | None, float | None]]:
    """(meter, hour) -> (span, peak flow) as InfluxDB holds them."""
    res = store.conn.series('SELECT * FROM "usage_1h" GROUP BY "meter"')
    return {
        (tags["meter"], int(f["time"]) - 1): (span_of_text(f.get("span")), f.get("peak_flow_lpm"))
        for tags, f in records(res)
    }


def expected_rollups(readings: list[Reading]) -> dict[tuple[str, int], tuple[Span | None, float | None]]:
    """The same from first principles: per meter and hour (H, H+3600], the fold of its readings."""
    out: dict[tuple[str, int], tuple[Span | None, float | None]] = {}
    by_meter: dict[str, dict[int, Reading]] = {}
    for r in readings:
        by_meter.setdefault(r.meter, {})[r.ts_s] = r
    for meter, rows in by_meter.items():
        prev = None
        hours: dict[int, list[Reading]] = {}
        peaks: dict[int, float | None] = {}
        for t in sorted(rows):
            r = rows[t]
            h = hour_of(t)
            hours.setdefault(h, []).append(r)
            flow = None if prev is None else flow_lpm(prev.ts_s, prev.total_ml, r.ts_s, r.total_ml)
            peak = peaks.get(h)
            if flow is not None:
                peak = flow if peak is None else max(peak, flow)
            peaks[h] = peak
            prev = r
        for h, rs in hours.items():
            out[(meter, h)] = (fold_marks(mark(r) for r in rs), peaks[h])
    return out


def flows_of(readings: list[Reading]) -> dict[tuple[str, int], float]:
    """Each reading's flow since its meter's previous reading."""
    out, prev = {}, {}
    for r in sorted(readings, key=lambda r: (r.meter, r.ts_s)):
        p = prev.get(r.meter)
        if p is not None:
            out[(r.meter, r.ts_s)] = flow_lpm(p.ts_s, p.total_ml, r.ts_s, r.total_ml)
        prev[r.meter] = r
    return out


def open_hours(readings: list[Reading]) -> set[tuple[str, int]]:
    """Each meter's newest hour: its roll-up may lag until a later reading closes it."""
    newest: dict[str, int] = {}
    for r in readings:
        newest[r.meter] = max(newest.get(r.meter, 0), r.ts_s)
    return {(m, hour_of(t)) for m, t in newest.items()}


def closed(rollups: dict, readings: list[Reading]) -> dict:
    meters, still_open = {r.meter for r in readings}, open_hours(readings)
    return {k: v for k, v in rollups.items() if k[0] in meters and k not in still_open}


def rollups_match(store: InfluxStore, readings: list[Reading]) -> bool:
    """The closed hours' roll-ups of the readings' meters are as expected (flows at 6 decimals)."""

    def rounded(rollups: dict) -> dict:
        return {k: (span, None if p is None else round(p, 6)) for k, (span, p) in rollups.items()}

    want = closed(expected_rollups(readings), readings)
    return rounded(closed(stored_rollups(store), readings)) == rounded(want)


def assert_rollups_match(store: InfluxStore, readings: list[Reading]) -> None:
    got, want = closed(stored_rollups(store), readings), closed(expected_rollups(readings), readings)
    assert got.keys() == want.keys()
    for key, (span, peak) in want.items():
        assert got[key][0] == span, key
        assert got[key][1] == (None if peak is None else pytest.approx(peak, abs=1e-6)), key
    assert rollups_match(store, readings)


def meter_readings(meter: str, minutes: int, seed: int) -> list[Reading]:
    """Minute readings with a reboot (seq restarts) and a register reset (total drops) in them."""
    rng = random.Random(seed)
    rows, total, seq, boot = [], 0, 0, 1
    for k in range(minutes):
        if k == minutes // 3:
            seq, boot = 0, boot + 1
        if k == 2 * minutes // 3:
            total = 1_000
        total += rng.choice([0, 0, 0, rng.randrange(1, 20_000)])
        rows.append(Reading(meter, T0 + 60 * k + rng.randrange(0, 3), total, seq, boot))
        seq += 1
    return rows


def test_in_order_batches_keep_each_hour_equal_to_its_readings(influx_store):
    rng = random.Random(1)
    streams = {m: meter_readings(m, 300, i) for i, m in enumerate(("m-a", "m-b", "m-c"))}
    pos = dict.fromkeys(streams, 0)
    while any(pos[m] < len(s) for m, s in streams.items()):
        batch = []
        for m, s in streams.items():
            n = rng.randrange(0, 8)
            batch += s[pos[m] : pos[m] + n]
            pos[m] += n
        influx_store.write_readings(batch)
    assert_rollups_match(influx_store, [r for s in streams.values() for r in s])


def test_late_out_of_order_and_redelivered_batches_rebuild_the_hours_they_touch(influx, influx_store):
    rows = meter_readings("m-late", 240, 7)
    kept_back = rows[50:130]  # a board's buffer, replayed after an outage
    influx_store.write_readings(rows[:50])
    influx_store.write_readings(rows[130:200])
    assert_rollups_match(influx_store, rows[:50] + rows[130:200])
    for i in range(0, len(kept_back), 60):
        influx_store.write_readings(kept_back[i : i + 60])
    influx_store.write_readings(rows[150:170])  # a redelivered batch
    assert_rollups_match(influx_store, rows[:200])
    other = InfluxStore.at(influx.url, influx_store.database)  # a restarted worker: no cache
    try:
        other.write_readings(rows[200:205])
        other.write_readings(rows[205:])
    finally:
        other.close()
    assert_rollups_match(influx_store, rows)


def test_a_gap_filled_late_rebuilds_the_hour_of_the_reading_after_it(influx_store):
    h0 = hour_of(T0)
    totals = [1_000 * k for k in range(60)] + [59_000 + 30_000 + 500 * k for k in range(21)]
    rows = [Reading("m-gap", h0 + 60 * (k + 1), t, k, 1) for k, t in enumerate(totals)]
    influx_store.write_readings(rows[:10] + rows[60:])  # the minutes 11..60 are missing
    influx_store.write_readings(rows[10:60])  # all in the first hour; the next reading's flow changes
    assert stored_rollups(influx_store)[("m-gap", h0 + 3600)][1] == pytest.approx(30.0)
    assert_rollups_match(influx_store, rows)


def test_an_empty_database_gets_the_marker_with_its_first_readings(influx_store):
    assert not influx_store.has_rollups()
    influx_store.write_readings([])
    assert not influx_store.has_rollups()
    influx_store.write_readings(meter_readings("m-new", 3, 1))
    assert influx_store.has_rollups()


def test_readings_from_before_rollups_get_no_marker_until_the_backfill(influx, influx_store):
    old = meter_readings("m-old", 200, 3) + meter_readings("m-old2", 90, 4)
    # Written by the previous version: flow_lpm stored, no roll-ups.
    influx_store.write_lines([reading_line(r, flows_of(old).get((r.meter, r.ts_s))) for r in old])
    new = [
        Reading("m-old", r.ts_s + 200 * 60, r.total_ml + 10**7, r.seq + 1_000, 9)
        for r in meter_readings("m-old", 30, 5)
    ]
    fresh = InfluxStore.at(influx.url, influx_store.database)
    try:
        fresh.write_readings(new)
        assert not fresh.has_rollups()  # the old hours have none yet: the API must read raw
        assert backfill(fresh, progress=False) == 2
        assert fresh.has_rollups()
    finally:
        fresh.close()
    assert_rollups_match(influx_store, old + new)


def test_backfill_cli_refuses_a_store_without_rollups(capsys):
    from ingest.rollup import main

    assert main(["--store", "sqlite:///x.db"]) == 2
    assert "only on InfluxDB" in capsys.readouterr().err


def test_backfill_reports_an_unreachable_influxdb(tmp_path):
    from storage.readings.base import StoreError

    with pytest.raises((StoreError, httpx.HTTPError)):
        store = InfluxStore(
            InfluxConnection("http://127.0.0.1:9", "nowhere", timeout_s=1), create_database=False
        )
        backfill(store, progress=False)


def test_version_1_rollups_are_not_trusted_until_the_backfill_rebuilds_them(influx, influx_store):
    """A database written by the version whose roll-ups held only the last total (and its marker)."""
    rows = meter_readings("m-v1", 150, 11)
    influx_store.write_lines([reading_line(r, flows_of(rows).get((r.meter, r.ts_s))) for r in rows])
    influx_store.write_lines(
        [f"usage_1h,meter=m-v1 total_l=1.000,n=60i {hour_of(T0) + 1}", "rollup_meta complete=true 1764000000"]
    )
    fresh = InfluxStore.at(influx.url, influx_store.database)
    try:
        assert not fresh.has_rollups()  # the old marker says nothing about spans
        fresh.write_readings(meter_readings("m-v1b", 5, 12))
        assert not fresh.has_rollups()
        backfill(fresh, progress=False)
        assert fresh.has_rollups()
    finally:
        fresh.close()
    assert_rollups_match(influx_store, rows)
