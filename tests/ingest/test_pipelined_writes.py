"""Batch k's lines are written while batch k+1 is judged; a write that fails undoes both, nothing is lost.

The worker keeps one write in flight (ingest/worker.py `_write_loop`). Here the store refuses every third
in-order write once, in small batches of a fast stream with late replays and a reset in it: every
reading is stored once, the hour roll-ups equal the readings, every meter's state counts exactly what
it sent, every message is acknowledged, and the state log on disk agrees after a restart."""

from __future__ import annotations

import threading

from storage.readings.base import StoreError
from storage.readings.influx import InfluxStore
from tests.conftest import wait_for
from tests.ingest.conftest import T0, batch, publish_many
from tests.storage.test_rollup import assert_rollups_match, rollups_match

METERS = 12
MINUTES = 130  # two closed hours and a bit


class RefusingStore(InfluxStore):
    """Refuses every `every`-th in-order write (once), as a flaky InfluxDB would."""

    every = 3
    calls = 0
    refused = 0
    lock = threading.Lock()

    def write_stream(self, lines: list[str]) -> None:
        with self.lock:
            self.calls += 1
            refuse = self.calls % self.every == 0
            self.refused += refuse
        if refuse:
            raise StoreError("InfluxDB write failed: connection reset (test)")
        super().write_stream(lines)


def plan() -> tuple[list[tuple[str, bytes]], dict[tuple[str, int], int]]:
    """Minute readings of METERS meters; meter 0 replays an older minute late, meter 1 resets at 70."""
    messages: list[tuple[str, bytes]] = []
    truth: dict[tuple[str, int], int] = {}
    for k in range(MINUTES):
        for i in range(METERS):
            meter = f"pw-{i}"
            total_ml = (k * 1700 + i * 13) if not (i == 1 and k >= 70) else (k - 70) * 900
            if i == 0 and k % 10 == 5:
                continue  # held back, sent late below
            messages.append((f"wm/v1/{meter}/readings", batch(meter, [(k, T0 + 60 * k, total_ml / 1000)])))
            truth[(meter, T0 + 60 * k)] = total_ml
        if k % 10 == 9:  # meter 0's held-back minute arrives late, after newer ones
            late = k - 4
            messages.append(("wm/v1/pw-0/readings", batch("pw-0", [(late, T0 + 60 * late, late * 1.7)])))
            truth[("pw-0", T0 + 60 * late)] = late * 1700
    return messages, truth


def test_a_refused_write_with_the_next_batch_judged_loses_and_doubles_nothing(
    start_worker, influx, mosquitto, tmp_path
):
    store = RefusingStore.at(influx.url, "pipelined")
    messages, truth = plan()
    worker = start_worker(store, client_id="pw-ingest", batch_max=7, retry_max_s=0.2)
    publish_many(mosquitto.port, messages, "pw-pub")
    wait_for(
        lambda: worker.acked == len(messages), timeout_s=90, what=f"every message acked ({worker.acked})"
    )
    assert store.refused >= 10  # the failure path was taken many times
    assert store.count_all_readings() == len(truth)
    for (meter, ts), ml in list(truth.items())[::37]:
        assert store.last_reading(meter, ts).total_ml == ml
    stored = [r for i in range(METERS) for r in store.readings(f"pw-{i}", 0, 2**31)]
    assert {(r.meter, r.ts_s): r.total_ml for r in stored} == truth
    wait_for(lambda: rollups_match(store, stored), what="roll-ups equal to the readings")
    assert_rollups_match(store, stored)
    for i in range(METERS):
        st = worker.state_of(f"pw-{i}")
        sent = sum(1 for m, _ts in truth if m == f"pw-{i}")
        assert st.readings == sent and st.duplicates == 0 and st.conflicts == 0, (i, st)
        held = 13 if i == 0 else 0  # meter 0's minutes 5, 15, ... 125 came late and filled their gaps
        assert st.seq == MINUTES - 1 and st.late == st.gaps == held and st.missing == 0, (i, st)
        assert not st.open_gaps, (i, st)
        assert st.resets == (1 if i == 1 else 0), (i, st)

    # the state log holds exactly the confirmed states: a restarted worker sees the same
    def norm(st):  # the log keeps an empty gap list as none
        st = st.clone()
        st.open_gaps = st.open_gaps or None
        return st

    states = {f"pw-{i}": norm(worker.state_of(f"pw-{i}")) for i in range(METERS)}
    worker.stop()
    again = start_worker(InfluxStore.at(influx.url, "pipelined"), client_id="pw-ingest")
    assert {m: norm(again.state_of(m)) for m in states} == states


class RefusingDeadLetters(InfluxStore):
    """Refuses every second dead-letter write (once), after the batch holding it was judged."""

    calls = 0

    def write_rejections(self, rejections) -> None:
        self.calls += 1
        if self.calls % 2 == 1:
            raise StoreError("InfluxDB write failed: connection reset (test)")
        super().write_rejections(rejections)


def test_a_refused_dead_letter_write_undoes_its_judged_batch(start_worker, influx, mosquitto):
    """Bad messages among good ones: the dead-letter write fails after the batch's readings were judged
    (and their states moved on). The batch is undone and taken again: every good reading stored once."""
    store = RefusingDeadLetters.at(influx.url, "pipelined_dl")
    messages: list[tuple[str, bytes]] = []
    good = 0
    for k in range(40):
        for i in range(5):
            messages.append((f"wm/v1/dl-{i}/readings", batch(f"dl-{i}", [(k, T0 + 60 * k, k * 1.5)])))
            good += 1
        messages.append(("wm/v1/dl-9/readings", b"{not json"))  # dead-lettered: malformed
    worker = start_worker(store, client_id="dl-ingest", batch_max=6, retry_max_s=0.2)
    publish_many(mosquitto.port, messages, "dl-pub")
    wait_for(
        lambda: worker.acked == len(messages), timeout_s=60, what=f"every message acked ({worker.acked})"
    )
    assert store.calls >= 2  # the refusal happened
    assert store.count_all_readings() == good
    for i in range(5):
        assert store.count_readings(f"dl-{i}") == 40
        st = worker.state_of(f"dl-{i}")
        assert st.readings == 40 and st.duplicates == 0 and st.seq == 39, st
