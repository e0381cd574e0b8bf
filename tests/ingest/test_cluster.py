"""Beyond one machine (issue 16, item 3): a 3-node NATS cluster on loopback, meters speaking MQTT, two
workers each holding half the partitions; a node killed mid-stream (the one a worker is connected to)
loses nothing and doubles nothing, and every closed hour's roll-up and every meter's state are exact."""

from __future__ import annotations

import threading

import pytest

from core.readings import Reading
from devservices.nats import NatsCluster
from ingest.config import IngestSettings
from ingest.worker import IngestWorker
from storage.readings.influx import InfluxStore
from tests.conftest import wait_for
from tests.ingest.conftest import LISTENER_CA, LOADGEN_CREDS, T0, batch, publish_many
from tests.storage.test_rollup import rollups_match

METERS = 24
MINUTES = 130


def total_ml(meter: int, minute: int) -> int:
    return minute * 900 + meter * 13 + (minute % 5) * 7


@pytest.fixture
def cluster(tmp_path):
    c = NatsCluster.closed(tmp_path / "nats", nodes=3, partitions=16, workers=2)
    c.start()
    _login_as_loadgen(c)
    yield c
    _forget(c)
    c.cleanup()


def _login_as_loadgen(c: NatsCluster) -> None:
    """The test publishers log in as the load generator, over TLS verified against the cluster's CA."""
    assert c.ca_file is not None
    for port in c.mqtt_ports:
        LOADGEN_CREDS[port] = c.credentials["wm-loadgen"]
        LISTENER_CA[port] = c.ca_file


def _forget(c: NatsCluster) -> None:
    for port in c.mqtt_ports:
        LOADGEN_CREDS.pop(port, None)
        LISTENER_CA.pop(port, None)


def _worker(cluster: NatsCluster, store: InfluxStore, i: int, first: int, tmp_path) -> IngestWorker:
    host_ports = cluster.addresses(first)
    host, port = host_ports[0].split(":")
    w = IngestWorker(
        IngestSettings(
            broker_host=host,
            broker_port=int(port),
            broker_failover=",".join(host_ports[1:]),
            broker_user="wm-ingest",
            broker_password=cluster.credentials["wm-ingest"],
            broker_ca_file=str(cluster.ca_file),
            client_id=f"cl-{i}",
            partition_topic="ingest",
            partitions=cluster.partitions,
            shard_index=i,
            shard_count=2,
            state_path=str(tmp_path / "state"),
            batch_wait_s=0.05,
        ),
        store,
    )
    w.start()
    assert w.wait_connected(30), "worker did not subscribe"
    return w


def test_a_node_killed_mid_stream_loses_and_doubles_nothing(cluster, influx, influx_store, tmp_path):
    workers = [_worker(cluster, influx_store, 0, 1, tmp_path), _worker(cluster, influx_store, 1, 2, tmp_path)]
    messages = [
        (f"wm/v1/cl-{m}/readings", batch(f"cl-{m}", [(k, T0 + 60 * k, total_ml(m, k) / 1000)]))
        for k in range(MINUTES)
        for m in range(METERS)
    ]
    n = len(messages)
    pub = threading.Thread(
        target=publish_many, args=(cluster.mqtt_ports[0], messages, "cl-pub"), kwargs={"pace_s": 0.001}
    )
    try:
        pub.start()
        wait_for(lambda: influx_store.count_all_readings() > n // 4, timeout_s=90, what="stream under way")
        cluster.kill(1)  # worker 0's node: its session and the streams' leaders there move to the others
        pub.join()
        wait_for(lambda: influx_store.count_all_readings() == n, timeout_s=180, what="every reading stored")
        wait_for(lambda: sum(w.acked for w in workers) >= n, timeout_s=60, what="every message acked")
    finally:
        for w in workers:
            w.stop()
    assert influx_store.count_all_readings() == n
    for m in range(METERS):
        assert influx_store.count_readings(f"cl-{m}") == MINUTES
    # each worker stored only its partitions' meters, and both did work: the partitions scale out
    assert all(w.written > 0 for w in workers)
    for w in workers:
        assert all(w.parts.of(meter) in w._owned for meter in w.parts.states)
    truth = [
        Reading(f"cl-{m}", T0 + 60 * k, total_ml(m, k), k, 1) for m in range(METERS) for k in range(MINUTES)
    ]
    assert rollups_match(influx_store, truth)
    for m in range(METERS):
        st = next(w.state_of(f"cl-{m}") for w in workers if w.state_of(f"cl-{m}") is not None)
        assert (st.seq, st.missing, st.conflicts, st.anomalies) == (MINUTES - 1, 0, 0, 0), st


def test_a_backlog_beyond_the_sessions_ack_limit_drains_at_once(influx, influx_store, tmp_path):
    """10,000 readings queued while the worker's session was away (more than NATS's MQTT ack-pending
    limit, 4,096 here): they drain in seconds, none redelivered. With one subscription per partition the
    session dropped what it delivered beyond its limit and resent it only after `ack_wait` (30 s): 2,048
    to 4,096 readings per 30 s, every one of them twice."""
    c = NatsCluster.closed(tmp_path / "nats1", nodes=3, partitions=16, workers=1)
    c.start()
    _login_as_loadgen(c)
    try:
        settings = dict(
            broker_host="127.0.0.1",
            broker_port=c.mqtt_ports[1],
            broker_user="wm-ingest",
            broker_password=c.credentials["wm-ingest"],
            broker_ca_file=str(c.ca_file),
            client_id="bl-0",
            partition_topic="ingest",
            partitions=16,
            state_path=str(tmp_path / "state1"),
            batch_wait_s=0.05,
        )
        w = IngestWorker(IngestSettings(**settings), influx_store)
        w.start()
        assert w.wait_connected(30), "worker did not subscribe"
        w.stop()  # its durable session queues what follows
        n = 10_000
        messages = [(f"wm/v1/bl-{m}/readings", batch(f"bl-{m}", [(0, T0, m / 10)])) for m in range(n)]
        publish_many(c.mqtt_ports[0], messages, "bl-pub")
        w = IngestWorker(IngestSettings(**settings), influx_store)
        w.start()
        try:
            wait_for(lambda: w.acked >= n, timeout_s=25, what=f"the backlog drained ({w.acked} of {n})")
        finally:
            w.stop()
        assert influx_store.count_all_readings() == n
        assert w.events.get("duplicate", 0) == 0, w.events  # nothing came twice
    finally:
        _forget(c)
        c.cleanup()
