"""Minutes from fleet-wide batches are the one consumption rule's minutes, however they are batched."""

from __future__ import annotations

import random

from core.consumption import Mark
from core.readings import Reading
from monitor.feed import InfluxReadings, MinuteFolder, StoreReadings
from storage.readings.sqlite import SqliteStore
from storage.readings.usage import usage

T0 = 1_772_409_600


def _readings(meter: str, seed: int, n: int) -> list[Reading]:
    """Jittered readings with resets, a register set, reverse flow and gaps."""
    rng = random.Random(seed)
    out, total, boot, ts = [], 50_000, 1, T0 + 7
    for k in range(n):
        ts += rng.choice([60, 60, 60, 55, 65, 120, 1, 300])
        r = rng.random()
        if r < 0.01:
            boot, total = boot + 1, rng.randrange(0, 5000)  # a reset on a new boot
        elif r < 0.02:
            total = max(0, total - rng.randrange(1, 30_000))  # reverse flow (held at the maximum)
        else:
            total += rng.choice([0, 0, 0, 120, 1000, 8000, 20_000])
        out.append(Reading(meter, ts, total, k + 1, boot))
    return out


def test_minutes_from_any_batching_are_the_rules_minutes(tmp_path):
    store = SqliteStore(str(tmp_path / "r.db"))
    rs = _readings("m1", 3, 600)
    store.write_readings(rs)
    last_minute = (rs[-1].ts_s - 1) // 60 * 60  # the minute (t, t + 60] of the last reading
    expected = {
        iv.start_s: iv.used_ml
        for iv in usage(store, "m1", (rs[0].ts_s - 1) // 60 * 60, last_minute + 60, 60).intervals
        if iv.readings and iv.start_s != last_minute  # still filling: no later reading closed it
    }
    marks = [Mark(r.ts_s, r.total_ml, r.boot) for r in rs]
    for cut_seed in range(5):
        rng = random.Random(cut_seed)
        folder, got, i = MinuteFolder(), {}, 0
        while i < len(marks):
            j = i + rng.randint(1, 90)
            # Polls overlap (the reorder window): readings already folded are skipped.
            batch = marks[max(0, i - rng.randint(0, 5)) : j]
            for ts, litres in folder.fold(batch):
                got[ts] = round(litres * 1000)
            folder = MinuteFolder.from_list(folder.to_list())  # a checkpoint between polls
            i = j
        # Every minute the readings closed, exactly as the rule counts it over the whole range.
        assert got == expected


def test_the_fleet_read_is_one_statement_on_influxdb(influx_store):
    meters = [f"f-{i}" for i in range(30)]
    for i, m in enumerate(meters):
        influx_store.write_readings(_readings(m, i, 50))
    reader = InfluxReadings(influx_store)
    sent = []
    series = influx_store.conn.series
    influx_store.conn.series = lambda q, *a, **k: sent.append(q) or series(q, *a, **k)
    got = reader.since(T0)
    assert len(sent) == 1 and "GROUP BY" in sent[0]
    plain = StoreReadings(influx_store).since(T0)
    assert got == plain and set(got) == set(meters)
    assert all(len(v) == 50 for v in got.values())


def test_a_20_l_per_min_burst_read_with_clock_jitter_is_found_in_18_minutes():
    """Readings arrive every 60 s +- 2 s and one is lost now and then: the minutes the folder makes still
    hold the burst's flow closely enough for the sustained rule (and its 2 minutes of margin)."""
    from leaks.detector import LeakDetector

    rng = random.Random(5)
    det, folder = LeakDetector(), MinuteFolder()
    start = T0 + 3600 + 41  # 20 L/min from 41 s into a minute
    total_ml, ts, marks = 0.0, T0 + 30, []
    while ts < T0 + 2 * 3600:
        nxt = ts + 60 + rng.uniform(-2, 2)
        total_ml += 20_000 / 60 * max(0.0, nxt - max(ts, start)) if nxt > start else 0.0
        ts = nxt
        if rng.random() > 0.05:
            marks.append(Mark(int(ts), int(total_ml), 1))
    events = [e for m, litres in folder.fold(marks) for e in det.update("m1", m, litres)]
    opened = [e.alert for e in events if e.kind == "open"]
    assert len(opened) == 1 and opened[0].kind == "burst"
    assert opened[0].detected_at - start <= 18 * 60 + 60
