"""A sharded worker acknowledges in the order the broker sent, its own messages and the other shards' alike.

mosquitto finds the message a PUBACK names by walking the session's in-flight list from the oldest; a
worker that acknowledged other shards' messages at once, past its own still being stored, made every
such ack a walk over the in-flight window: 2 workers ran 10x slower than one (bench.ingest)."""

from __future__ import annotations

from ingest.pipeline import partition_of
from ingest.wire import Subscriber
from tests.conftest import wait_for
from tests.ingest.conftest import series


def test_acks_leave_in_the_order_received(start_worker, publisher, sqlite_store, monkeypatch):
    sent: list[int] = []
    real_ack = Subscriber.ack

    def spy(self, mids):
        sent.extend(mids)
        real_ack(self, mids)

    monkeypatch.setattr(Subscriber, "ack", spy)
    meters = [f"m-{i:04d}" for i in range(60)]
    own = [m for m in meters if partition_of(m, 16) % 2 == 0]
    assert 0 < len(own) < len(meters)  # both shards have meters here
    worker = start_worker(sqlite_store, shard_index=0, shard_count=2, partitions=16)
    for m in meters:
        publisher.readings(m, series(2))
    wait_for(lambda: len(sent) == len(meters), timeout_s=20, what=f"every message acked ({len(sent)})")
    assert worker.acked == len(own)  # its own, stored
    assert sqlite_store.count_all_readings() == 2 * len(own)
    assert sent == sorted(sent) and len(set(sent)) == len(meters), sent
