"""Bad input through the real broker: each message dead-lettered with its reason, counted, never blocking."""

from __future__ import annotations

import time
from collections import Counter

from tests.conftest import wait_for
from tests.ingest.conftest import T0, batch, metric, series
from tests.ingest.test_payload import BAD

REASONS = (
    "malformed",
    "unknown_version",
    "meter_mismatch",
    "schema",
    "oversize",
    "bad_timestamp",
    "bad_total",
    "bad_topic",
    "bad_order",
    "flood",
)


def test_every_bad_message_is_dead_lettered_counted_and_good_meters_flow(
    start_worker, publisher, influx_store
):
    before = {r: metric("wm_ingest_messages_rejected_total", {"reason": r}) for r in REASONS}
    worker = start_worker(influx_store, flood_burst=5, flood_rate_per_s=0.001)
    now = time.time()
    sent = Counter()
    good = 0
    messages = 0
    for i, (case, topic, payload, reason) in enumerate(BAD):
        if case == "ts 301 s ahead":  # relative to the receiver's clock, not the test's NOW
            payload = batch("m-0001", [(1, int(now) + 3600, 1.0)])
        # one meter per case, so that the flood limit (5 here) does not catch these
        topic = topic.replace("m-0001", f"bad-{i}")
        payload = payload.replace(b"m-0001", f"bad-{i}".encode())
        # bad_topic cases that our subscription wm/v1/+/readings does not match never arrive
        if not (topic.startswith("wm/v1/") and topic.endswith("/readings") and topic.count("/") == 3):
            continue
        publisher.publish(topic, payload)
        sent[reason] += 1
        publisher.readings(f"good-{i}", series(3))  # a good meter right behind every bad message
        good += 3
        messages += 2
    # a flood: one reading sent 20 times; the first is new, 5 more pass the bucket (duplicates), 14 refused
    for _k in range(20):
        publisher.readings("flooder", [(0, T0, 1.0)])
    sent["flood"] += 14
    good += 1
    messages += 20
    # a backlog replay is not a flood: 20 messages of the next seqs in order all pass (burst 5)
    for k in range(1, 21):
        publisher.readings("flooder", [(k, T0 + 60 * k, float(k))])
    good += 20
    messages += 20

    wait_for(lambda: influx_store.count_all_readings() == good, timeout_s=30, what="good readings stored")
    expected = sum(sent.values())
    wait_for(
        lambda: worker.rejected >= expected,
        timeout_s=30,
        what=f"worker counted rejections {sent} {worker.events} {worker.health()}",
    )
    got = Counter(r.reason for r in influx_store.rejections(limit=1000))
    assert got == sent
    assert set(sent) == set(REASONS)
    assert worker.rejected == expected
    for reason in REASONS:
        assert (
            metric("wm_ingest_messages_rejected_total", {"reason": reason}) - before[reason] == sent[reason]
        )
    assert influx_store.count_readings("flooder") == 21
    health = worker.health()
    assert health["writer_alive"] and health["store_ok"] and health["connected"]
    # a rejected message keeps its topic and (the first KiB of) its payload
    mism = [r for r in influx_store.rejections(limit=1000) if r.reason == "meter_mismatch"]
    assert len(mism) == 2
    assert all(r.topic.startswith("wm/v1/bad-") and r.payload.startswith(b'{"v"') for r in mism)
    wait_for(lambda: worker.acked == messages, timeout_s=10, what="every message acked")
