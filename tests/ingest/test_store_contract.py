"""The store contract (ingest/store/base.py), run against InfluxDB (real influxd) and the SQLite store."""

from __future__ import annotations

import pytest

from ingest.model import Reading, Rejection
from ingest.store.sqlite import SqliteStore

T0 = 1_764_000_000


@pytest.fixture(params=["influx", "sqlite"])
def store(request, tmp_path):
    if request.param == "influx":
        return request.getfixturevalue("influx_store")
    s = SqliteStore(str(tmp_path / "contract.db"))
    request.addfinalizer(s.close)
    return s


def r(meter: str, ts: int, total_ml: int, seq: int = 0, boot: int = 1) -> Reading:
    return Reading(meter, ts, total_ml, seq, boot)


def test_rewriting_same_meter_and_ts_keeps_one_point_last_write_wins(store):
    store.write_readings([r("a", T0, 1000, 1), r("a", T0 + 60, 2000, 2)])
    store.write_readings([r("a", T0, 1000, 1), r("a", T0 + 60, 2000, 2)])  # redelivery
    assert store.count_readings("a") == 2
    store.write_readings([r("a", T0 + 60, 2500, 2)])  # same identity, new value: overwrites
    assert store.count_readings("a") == 2
    assert store.last_at_or_before("a", T0 + 60) == 2500
    assert store.count_all_readings() == 2


def test_meters_are_separate_series(store):
    store.write_readings([r("a", T0, 1000), r("b", T0, 5000), r("b", T0 + 60, 6001)])
    assert store.count_readings("a") == 1
    assert store.count_readings("b") == 2
    assert store.count_readings("nobody") == 0
    assert store.count_all_readings() == 3
    summary = store.meters()
    assert [(m.meter, m.last_ts_s, m.last_total_ml) for m in summary] == [
        ("a", T0, 1000),
        ("b", T0 + 60, 6001),
    ]


def test_last_at_or_before_and_first_after_bounds(store):
    store.write_readings([r("a", T0 + 60 * i, 1000 * i + 1, i) for i in range(5)])
    assert store.last_at_or_before("a", T0 - 1) is None
    assert store.last_at_or_before("a", T0) == 1
    assert store.last_at_or_before("a", T0 + 119) == 1001
    assert store.last_at_or_before("a", T0 + 120) == 2001
    assert store.first_after("a", T0, T0 + 240) == 1001  # exclusive start
    assert store.first_after("a", T0 - 1, T0 + 240) == 1
    assert store.first_after("a", T0 + 60, T0 + 119) is None
    assert store.first_after("a", T0 + 60, T0 + 120) == 2001  # inclusive stop
    assert store.last_at_or_before("other", T0 + 999) is None


def test_bucket_lasts_are_half_open_on_the_left(store):
    # readings every 60 s from T0 .. T0+600; buckets of 300 s from T0: (T0, T0+300], (T0+300, T0+600]
    store.write_readings([r("a", T0 + 60 * i, 100 * i, i) for i in range(11)])
    buckets = store.bucket_lasts("a", T0, T0 + 600, 300)
    assert [(b.start_s, b.total_ml) for b in buckets] == [(T0, 500), (T0 + 300, 1000)]
    # a start that is not a multiple of the bucket size, and empty buckets left out
    store.write_readings([r("c", T0 + 7, 1), r("c", T0 + 1000, 2)])
    buckets = store.bucket_lasts("c", T0 + 7, T0 + 1300, 100)
    assert [(b.start_s, b.total_ml) for b in buckets] == [(T0 + 907, 2)]
    assert store.bucket_lasts("a", T0 + 600, T0 + 900, 60) == []


def test_exact_millilitres_round_trip(store):
    totals = [0, 1, 999, 1001, 12_345_678_999, 10**15]
    store.write_readings([r("x", T0 + 60 * i, v, i) for i, v in enumerate(totals)])
    assert [store.last_at_or_before("x", T0 + 60 * i) for i in range(len(totals))] == totals


def test_rejections_are_kept_newest_first_even_in_the_same_microsecond(store):
    t = 1_764_000_123.25
    rejs = [
        Rejection("wm/v1/a/readings", "malformed", "not JSON", b"{oops", t),
        Rejection("wm/v1/a/readings", "malformed", "not JSON", b"{oops2", t),
        Rejection('wm/v1/b/"q"\n', "bad_topic", 'quote " and\nnewline', b"\x00\xffbin", t + 1),
    ]
    store.write_rejections(rejs)
    got = store.rejections(limit=10)
    assert len(got) == 3
    assert got[0].reason == "bad_topic" and got[0].received_s == pytest.approx(t + 1, abs=1e-3)
    assert sorted(g.payload[:6] for g in got[1:]) == [b"{oops", b"{oops2"]
    assert store.rejections(limit=1)[0].reason == "bad_topic"


def test_rejection_payload_is_capped_at_1_kib(store):
    store.write_rejections([Rejection("wm/v1/a/readings", "oversize", "big", b"x" * 9000, 1_764_000_000.0)])
    (got,) = store.rejections()
    assert got.payload == b"x" * 1024


def test_readings_lists_a_meters_points_in_the_left_open_range_in_time_order(store):
    store.write_readings([r("m", 1_700_000_120, 3000, 3), r("m", 1_700_000_000, 1000, 1),
                          r("m", 1_700_000_060, 2000, 2), r("other", 1_700_000_060, 9, 1)])
    got = store.readings("m", 1_700_000_000, 1_700_000_120)
    assert [(x.ts_s, x.total_ml, x.seq) for x in got] == [(1_700_000_060, 2000, 2), (1_700_000_120, 3000, 3)]
    assert got[0].meter == "m" and got[0].boot == 1 and got[0].source == "device"
