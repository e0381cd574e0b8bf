"""The store contract (storage/readings/base.py), run against InfluxDB (real influxd) and the SQLite store."""

from __future__ import annotations

import pytest

from core.consumption import fold_marks, mark
from core.readings import Reading, Rejection, Source
from storage.readings.sqlite import SqliteStore

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
    assert store.last_reading("a", T0 + 60).total_ml == 2500
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


def test_last_reading_bounds(store):
    store.write_readings([r("a", T0 + 60 * i, 1000 * i + 1, i) for i in range(5)])
    assert store.last_reading("a", T0 - 1) is None
    assert store.last_reading("a", T0) == r("a", T0, 1, 0)
    assert store.last_reading("a", T0 + 119).total_ml == 1001
    assert store.last_reading("a", T0 + 120) == r("a", T0 + 120, 2001, 2)
    assert store.last_reading("other", T0 + 999) is None


def test_step_spans_are_half_open_on_the_left_and_fold_the_readings_of_each_step(store):
    # readings every 60 s from T0 .. T0+600; steps of 300 s from T0: (T0, T0+300], (T0+300, T0+600]
    rows = [r("a", T0 + 60 * i, 100 * i, i) for i in range(11)]
    store.write_readings(rows)
    got = store.step_spans("a", T0, T0 + 600, 300)
    assert [(s, span) for s, span, _peak in got] == [
        (T0, fold_marks(mark(x) for x in rows[1:6])),
        (T0 + 300, fold_marks(mark(x) for x in rows[6:11])),
    ]
    # 100 ml a minute: 0.1 L/min, the stored flow since each previous reading
    assert [round(peak, 6) for _s, _span, peak in got] == [0.1, 0.1]
    # a start that is not a multiple of the step, and empty steps left out
    store.write_readings([r("c", T0 + 7, 1), r("c", T0 + 1000, 2)])
    got = store.step_spans("c", T0 + 7, T0 + 1300, 100)
    assert [(s, span.first.ts_s, span.last.total_ml) for s, span, _p in got] == [(T0 + 907, T0 + 1000, 2)]
    assert store.step_spans("a", T0 + 600, T0 + 900, 60) == []


def test_step_spans_keep_resets_and_boots_inside_a_step(store):
    rows = [
        r("a", T0, 100_000, 0, 1),
        r("a", T0 + 60, 110_000, 1, 1),
        r("a", T0 + 120, 2_000, 0, 2),
        r("a", T0 + 180, 17_000, 1, 2),
    ]
    store.write_readings(rows)
    ((start, span, _peak),) = store.step_spans("a", T0 - 1, T0 + 3599, 3600)
    assert start == T0 - 1
    assert (span.segments, span.used_ml, span.n) == (2, 25_000, 4)


def test_source_and_confidence_round_trip(store):
    photo = Reading("p", T0, 5_000, 0, 0, Source.PHOTO, 0.87)
    manual = Reading("p", T0 + 60, 6_000, 0, 0, Source.MANUAL)
    store.write_readings([photo, manual])
    assert store.readings("p", T0 - 1, T0 + 60) == [photo, manual]
    assert store.last_reading("p", T0) == photo


def test_exact_millilitres_round_trip(store):
    totals = [0, 1, 999, 1001, 12_345_678_999, 10**15]
    store.write_readings([r("x", T0 + 60 * i, v, i) for i, v in enumerate(totals)])
    assert [store.last_reading("x", T0 + 60 * i).total_ml for i in range(len(totals))] == totals
    assert [x.total_ml for x in store.readings("x", T0 - 1, T0 + 60 * len(totals))] == totals


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
    store.write_readings(
        [
            r("m", 1_700_000_120, 3000, 3),
            r("m", 1_700_000_000, 1000, 1),
            r("m", 1_700_000_060, 2000, 2),
            r("other", 1_700_000_060, 9, 1),
        ]
    )
    got = store.readings("m", 1_700_000_000, 1_700_000_120)
    assert [(x.ts_s, x.total_ml, x.seq) for x in got] == [(1_700_000_060, 2000, 2), (1_700_000_120, 3000, 3)]
    assert got[0].meter == "m" and got[0].boot == 1 and got[0].source == "device"


def test_photo_readings_written_before_confidence_had_its_own_field_still_read(store):
    """Old data said `photo:<confidence>` in the source; VEE still gets the confidence."""
    if isinstance(store, SqliteStore):
        with store._lock:
            store._db.execute(
                "INSERT INTO reading VALUES (?,?,?,?,?,?,NULL)", ("old", T0, 5_000, 0, 0, "photo:0.91")
            )
    else:
        store.write_lines([f'reading,meter=old total_l=5.000,seq=0i,boot=0i,source="photo:0.91" {T0}'])
    (got,) = store.readings("old", T0 - 1, T0)
    assert (got.source, got.confidence, got.total_ml) == (Source.PHOTO, 0.91, 5_000)


def test_a_sqlite_file_from_before_the_confidence_column_opens_and_reads(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE reading (meter TEXT NOT NULL, ts_s INTEGER NOT NULL, total_ml INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, boot INTEGER NOT NULL, source TEXT NOT NULL, PRIMARY KEY (meter, ts_s)) "
        "WITHOUT ROWID; INSERT INTO reading VALUES ('m', 1764000000, 7, 1, 1, 'device');"
    )
    db.commit()
    db.close()
    store = SqliteStore(str(path))
    try:
        assert store.readings("m", 0, 2**31) == [Reading("m", 1764000000, 7, 1, 1)]
        store.write_readings([Reading("m", 1764000060, 8, 0, 0, Source.PHOTO, 0.5)])
        assert store.last_reading("m", 2**31).confidence == 0.5
    finally:
        store.close()
