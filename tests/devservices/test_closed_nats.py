"""The NATS cluster is closed like mosquitto (issue 16 item 3, issue 17): no anonymous client, a meter
publishes only its own readings (after the cluster's partition mapping) and reads only its own config,
meters speak MQTT only, a node without the route credentials cannot join. Each case fails on the open
cluster (`NatsCluster(...)` without services)."""

from __future__ import annotations

import asyncio
import socket
import time

import nats
import pytest

from devservices.nats import NatsCluster
from ingest.pipeline import partition_of
from tests.devservices.test_closed_brokers import Client

PARTITIONS = 16
WORKERS = 4  # the mapping deals meters to one subject per worker


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = NatsCluster.closed(tmp_path_factory.mktemp("nats"), nodes=3, partitions=PARTITIONS, workers=WORKERS)
    c.start()
    c.pw = c.add_meters(["m-1", "m-2"])  # type: ignore[attr-defined]
    yield c
    c.cleanup()


def _ingest(c: NatsCluster, cid: str, node: int = 0) -> Client:
    """A client logged in as the ingest, subscribed like a worker: every partition, QoS 1."""
    ingest = Client(c.mqtt_ports[node], "wm-ingest", c.credentials["wm-ingest"], cid)
    assert ingest.refused == 0
    ingest.sub(f"{c.partition_topic}/+/+")
    return ingest


def test_anonymous_and_wrong_passwords_are_refused(cluster):
    anon = Client(cluster.mqtt_ports[0], None, None, "anon")
    wrong = Client(cluster.mqtt_ports[1], "wm-ingest", "not-the-password", "wrong")
    swapped = Client(cluster.mqtt_ports[2], "m-1", cluster.pw["m-2"], "m-1")  # another meter's password
    ok = Client(cluster.mqtt_ports[2], "m-1", cluster.pw["m-1"], "m-1")
    assert anon.refused != 0 and wrong.refused != 0 and swapped.refused != 0
    assert ok.refused == 0
    for c in (anon, wrong, swapped, ok):
        c.close()


def test_a_meter_publishes_only_its_own_readings_and_only_the_operator_writes_config(cluster):
    pw, pt = cluster.pw, cluster.partition_topic
    ingest = _ingest(cluster, "ing-pub")
    m2 = Client(cluster.mqtt_ports[2], "m-2", pw["m-2"], "m-2-pub")
    m2.sub("wm/v1/m-2/config")
    m1 = Client(cluster.mqtt_ports[1], "m-1", pw["m-1"], "m-1-pub")
    own, other = partition_of("m-1", WORKERS), partition_of("m-2", WORKERS)
    m1.pub("wm/v1/m-1/readings", b"mine")
    m1.pub("wm/v1/m-2/readings", b"forged")  # maps to m-2's partition subject: refused there
    m1.pub(f"{pt}/{other}/m-2", b"forged-direct")  # the partition subject itself
    m1.pub(f"{pt}/{(own + 1) % WORKERS}/m-1", b"wrong-partition")  # its own id, another worker's
    m1.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":1000}')  # a meter writing config
    ingest.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":999}')  # the ingest writing config
    op = Client(cluster.mqtt_ports[0], "wm-operator", cluster.credentials["wm-operator"], "op")
    op.pub("wm/v1/m-2/config", b'{"v":1,"interval_s":60}')
    time.sleep(1.5)
    assert ingest.got == [(f"{pt}/{own}/m-1", b"mine")]
    assert [p for _t, p in m2.got] == [b'{"v":1,"interval_s":60}']
    for c in (ingest, m1, m2, op):
        c.close()


def test_a_meter_cannot_read_other_meters_readings_or_the_partitions(cluster):
    pw, pt = cluster.pw, cluster.partition_topic
    ingest = _ingest(cluster, "ing-sub", node=2)
    spy = Client(cluster.mqtt_ports[0], "m-1", pw["m-1"], "m-1-spy")
    for topic in ("wm/v1/+/readings", "wm/v1/m-2/readings", f"{pt}/+/+", f"{pt}/#", "#", "wm/v1/m-2/config"):
        spy.sub(topic)
    for topic in ("$MQTT/sub/#", "$MQTT/#"):  # the server's own subjects for QoS 1 deliveries
        spy.sub(topic)
    m2 = Client(cluster.mqtt_ports[1], "m-2", pw["m-2"], "m-2-sub")
    m2.pub("wm/v1/m-2/readings", b"m-2's")
    op = Client(cluster.mqtt_ports[1], "wm-operator", cluster.credentials["wm-operator"], "op-sub")
    op.pub("wm/v1/m-2/config", b'{"v":1,"interval_s":60}')
    time.sleep(1.5)
    assert [p for _t, p in ingest.got] == [b"m-2's"]  # it was published, and delivered to the ingest only
    assert spy.got == []
    for c in (ingest, spy, m2, op):
        c.close()


def test_a_meter_cannot_log_in_as_a_plain_nats_client(cluster):
    async def connect(user: str, password: str) -> None:
        nc = await nats.connect(
            f"nats://127.0.0.1:{cluster.client_ports[0]}",
            user=user,
            password=password,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=5,
        )
        await nc.close()

    for user, password in (("m-1", cluster.pw["m-1"]), ("wm-ingest", cluster.credentials["wm-ingest"])):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(connect(user, password))
    ok = Client(cluster.mqtt_ports[0], "m-1", cluster.pw["m-1"], "m-1-mqtt")  # the same password on MQTT
    assert ok.refused == 0
    ok.close()


def test_a_node_without_the_route_credentials_cannot_join(cluster):
    """A rogue server dialling a route port (it would receive every message the cluster routes)."""
    with socket.create_connection(("127.0.0.1", cluster.route_ports[0]), timeout=5) as s:
        assert s.recv(4096).startswith(b"INFO ")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"rogue","cluster":"wm"}\r\nPING\r\n')
        answer = b""
        deadline = time.monotonic() + 5
        while b"\r\n" not in answer and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert b"Authorization Violation" in answer, answer
