"""Exactly once: duplicated, replayed, out-of-order, redelivered messages; distinct stored points = truth."""

from __future__ import annotations

import random
import threading

from tests.conftest import wait_for
from tests.ingest.conftest import T0, batch, metric, publish_many
from tests.storage.test_rollup import rollups_match

METERS = 20
READINGS = 90


def plan(seed: int = 7):
    """Messages with duplicates, late out-of-order replays and skipped seqs; and the ground truth."""
    rng = random.Random(seed)
    messages, truth, skipped = [], {}, {}
    duplicates = 0
    for m in range(METERS):
        meter = f"eo-{m:03d}"
        total_ml = 0
        sent = []
        lost = set(rng.sample(range(10, READINGS), 3))  # readings the meter never delivers: gaps
        skipped[meter] = lost
        for seq in range(READINGS):
            total_ml += rng.randrange(0, 20_000)
            if seq in lost:
                continue
            reading = (seq, T0 + 60 * seq, total_ml / 1000)
            truth[(meter, reading[1])] = total_ml
            sent.append(reading)
        # held back: 10 readings replayed late, after newer ones, in reverse batch order
        held = sent[40:50]
        live = sent[:40] + sent[50:]
        for r in live:
            messages.append((meter, [r]))
        messages.append((meter, held[5:]))
        messages.append((meter, held[:5]))
    by_meter: dict[str, list] = {}
    for meter, rs in messages:
        by_meter.setdefault(meter, []).append(rs)
    order = [meter for meter, _ in messages]
    rng.shuffle(order)  # meters interleave; each meter's own order is kept
    out = []
    cursors = {m: 0 for m in by_meter}
    for meter in order:
        rs = by_meter[meter][cursors[meter]]
        cursors[meter] += 1
        out.append((f"wm/v1/{meter}/readings", batch(meter, rs)))
        if rng.random() < 0.3:  # the meter resends (lost PUBACK)
            out.append(out[-1])
            duplicates += sum(1 for _ in rs)
    late = {m: 10 for m in by_meter}
    return out, truth, skipped, duplicates, late


def test_distinct_points_equal_truth_under_duplicates_and_redelivery(
    start_worker, influx_store, mosquitto, tmp_path
):
    messages, truth, skipped, published_dups, late = plan()
    dup_before = metric("wm_ingest_readings_duplicate_total")
    worker = start_worker(influx_store, client_id="eo-ingest", batch_max=50)
    # midway, cut the worker's TCP connection: the broker redelivers what it had not acked
    half = len(messages) // 2
    publish_many(mosquitto.port, messages[:half], "eo-pub-1")
    cut = threading.Thread(target=lambda: worker.cut_connection())
    cut.start()
    publish_many(mosquitto.port, messages[half:], "eo-pub-2")
    cut.join()

    wait_for(
        lambda: influx_store.count_all_readings() == len(truth), timeout_s=60, what="every distinct point"
    )
    wait_for(lambda: len(worker._queue) == 0 and worker.health()["connected"], timeout_s=30, what="drained")
    # no point more, no point less, every total exact
    assert influx_store.count_all_readings() == len(truth)
    for meter in skipped:
        points = {ts: ml for (m, ts), ml in truth.items() if m == meter}
        assert influx_store.count_readings(meter) == len(points)
        for ts in sorted(points)[::17]:
            assert influx_store.last_reading(meter, ts).total_ml == points[ts]
    # the hourly roll-ups agree with what was stored, despite redelivery and late replays
    stored = [r for meter in {m for m, _ts in truth} for r in influx_store.readings(meter, 0, 2**31)]
    wait_for(lambda: rollups_match(influx_store, stored), what="roll-ups equal to the readings")
    # duplicates are detected (at least those we published; redeliveries add more)
    assert metric("wm_ingest_readings_duplicate_total") - dup_before >= published_dups
    # per-meter state: gaps reported exactly, late replays fill what they can
    for meter, lost in skipped.items():
        st = worker.state_of(meter)
        newest = max((ts - T0) // 60 for (m, ts) in truth if m == meter)
        assert st.seq == newest
        assert st.readings == sum(1 for (m, _ts) in truth if m == meter)
        # a reading lost after the newest one received cannot be known yet
        assert st.missing == sum(1 for s in lost if s < newest), (meter, st)
        assert st.late == late[meter]
        assert st.resets == 0 and st.anomalies == 0


def test_state_survives_worker_restart(start_worker, influx_store, mosquitto, tmp_path):
    w1 = start_worker(influx_store, client_id="restart-ingest")
    publish_many(
        mosquitto.port,
        [("wm/v1/rs-1/readings", batch("rs-1", [(i, T0 + 60 * i, i)])) for i in range(5)],
        "rs-pub",
    )
    wait_for(lambda: influx_store.count_readings("rs-1") == 5, what="first readings")
    wait_for(lambda: w1.acked == 5, timeout_s=10, what="first readings acked")
    w1.stop()
    w2 = start_worker(influx_store, client_id="restart-ingest")  # same state file (tmp_path/state.db)
    publish_many(
        mosquitto.port,
        [("wm/v1/rs-1/readings", batch("rs-1", [(i, T0 + 60 * i, i)])) for i in (3, 5, 7)],
        "rs-pub",
    )
    wait_for(lambda: influx_store.count_readings("rs-1") == 7, what="next readings")
    wait_for(lambda: w2.events["new"] + w2.events["duplicate"] == 3, timeout_s=10, what="state updated")
    st = w2.state_of("rs-1")
    assert (st.seq, st.readings, st.duplicates, st.gaps, st.missing) == (7, 7, 1, 1, 1)
    assert w2.events["new"] == 2 and w2.events["gap"] == 1 and w2.events["duplicate"] == 1
