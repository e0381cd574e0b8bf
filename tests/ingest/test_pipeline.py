"""The batch pipeline without a broker: a failed write changes no state, so the retry stores all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.consumption import Rule
from core.readings import Reading
from ingest.flood import FloodLimit
from ingest.intake import DeviceIntake
from ingest.pipeline import ActiveMeters, Msg, Partitions, Pipeline, partition_of
from storage.readings.base import StoreError
from storage.readings.sqlite import SqliteStore
from tests.ingest.conftest import T0, batch


class FlakyStore(SqliteStore):
    """Fails the next `fail` writes, as an InfluxDB outage would."""

    fail = 0

    def write_readings(self, readings):
        if self.fail:
            self.fail -= 1
            raise StoreError("InfluxDB write failed: connection refused")
        super().write_readings(readings)


def test_a_failed_write_changes_no_state_and_the_retry_stores_everything(tmp_path):
    store = FlakyStore(str(tmp_path / "r.db"))
    parts = Partitions(4, [0, 1, 2, 3], None, store)
    pipe = Pipeline(store, DeviceIntake(), parts, ActiveMeters(), FloodLimit(1000, 1.0), Rule(), 10)
    msgs = [
        Msg(f"wm/v1/m-{i}/readings", batch(f"m-{i}", [(1, T0, 1.0), (2, T0 + 60, 2.0)]), T0 + 61)
        for i in range(3)
    ]
    pipe.process(msgs[:1])  # m-0 known before the failing batch
    store.fail = 1
    with pytest.raises(StoreError):
        pipe.process([Msg("wm/v1/m-0/readings", batch("m-0", [(3, T0 + 120, 3.0)]), T0 + 121), *msgs[1:]])
    assert set(parts.states) == {"m-0"} and parts.states["m-0"].seq == 2  # as before the batch
    out = pipe.process([Msg("wm/v1/m-0/readings", batch("m-0", [(3, T0 + 120, 3.0)]), T0 + 121), *msgs[1:]])
    assert out.written == 5 and out.events["new"] == 5 and not out.events["duplicate"]
    assert store.count_all_readings() == 7


def test_partitions_are_natss():
    """FNV-1a, as NATS's subject mapping partition(): `m-1` lands in 10 of 16 (seen on a real cluster)."""
    assert partition_of("m-1", 16) == 10


@given(st.text(max_size=40), st.integers(1, 64))
def test_the_partition_hash_is_fnv1a_of_the_utf8_bytes(meter, count):
    """The compiled hash (machine integers) agrees with FNV-1a written plainly, for any id and count."""
    h = 0x811C9DC5
    for b in meter.encode():
        h = ((h ^ b) * 0x01000193) % 2**32
    assert partition_of(meter, count) == h % count


def test_workers_starting_together_on_a_new_deployment_all_hold_authoritative_state(tmp_path):
    """Two workers start at once on an empty store; the second asks after the first has written.

    Each used to ask the store for its own partitions, so the second found readings and took the query
    path for every meter (20x slower with 2 and 3 workers, bench.ingest). The first worker now decides
    for every partition of the deployment."""
    store = SqliteStore(str(tmp_path / "r.db"))
    state = str(tmp_path / "state")
    first = Partitions(4, [0, 2], state, store)
    store.write_readings([Reading("m-1", T0, 1000, 1, 1)])  # the first worker's readings land
    second = Partitions(4, [1, 3], state, store)
    assert all(first.authoritative.values()) and all(second.authoritative.values())
    assert set(second.authoritative) == {1, 3}


def test_a_lost_partition_state_on_a_store_with_readings_is_not_authoritative(tmp_path):
    store = SqliteStore(str(tmp_path / "r.db"))
    state = tmp_path / "state"
    Partitions(4, [0, 1, 2, 3], str(state), store)
    store.write_readings([Reading("m-1", T0, 1000, 1, 1)])
    (state / "p2.snap").unlink()  # one partition's state lost, the database keeps its readings
    parts = Partitions(4, [0, 1, 2, 3], str(state), store)
    assert parts.authoritative == {0: True, 1: True, 2: False, 3: True}


def test_readings_sent_again_in_the_same_batch_are_judged_against_the_batch(tmp_path):
    store = FlakyStore(str(tmp_path / "r.db"))
    parts = Partitions(4, [0, 1, 2, 3], None, store)
    pipe = Pipeline(store, DeviceIntake(), parts, ActiveMeters(), FloodLimit(1000, 1.0), Rule(), 10)

    def msg(readings):
        return Msg("wm/v1/m-0/readings", batch("m-0", readings), T0 + 600)

    out = pipe.process(
        [
            msg([(1, T0, 1.0), (2, T0 + 60, 2.0)]),
            msg([(1, T0, 1.0)]),  # sent again: the batch's index of m-0 is made here
            msg([(3, T0 + 120, 3.0), (4, T0 + 180, 4.0)]),  # in order: added to that index
            msg([(3, T0 + 120, 3.0)]),  # again, older than the newest: found in the index
            msg([(2, T0 + 60, 9.0)]),  # another total for a ts the batch holds: a conflict
        ]
    )
    assert out.written == 4 and out.events["new"] == 4
    assert out.events["duplicate"] == 2 and out.events["conflict"] == 1
    assert [r.reason for r in out.rejections] == ["conflict"]
    assert store.count_all_readings() == 4
    assert parts.states["m-0"].seq == 4 and parts.states["m-0"].duplicates == 2
