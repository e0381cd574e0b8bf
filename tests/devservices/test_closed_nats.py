"""The NATS cluster is closed like mosquitto (issue 16 item 3, issue 17): no anonymous client, a meter
publishes only its own readings (after the cluster's partition mapping) and reads only its own config,
meters speak MQTT only and over TLS, passwords are not in the nodes' config, a node without the route
certificate and credentials cannot join. Each case fails on the open cluster (`NatsCluster(...)` without
services)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import nats
import pytest

from devservices.nats import NatsCluster
from devservices.provision import issue_cert
from ingest.packets import connect_packet
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
    ingest = Client(c.mqtt_ports[node], "wm-ingest", c.credentials["wm-ingest"], cid, tls_ca=c.ca_file)
    assert ingest.refused == 0
    ingest.sub(f"{c.partition_topic}/+/+")
    return ingest


def test_anonymous_and_wrong_passwords_are_refused(cluster):
    anon = Client(cluster.mqtt_ports[0], None, None, "anon", tls_ca=cluster.ca_file)
    wrong = Client(cluster.mqtt_ports[1], "wm-ingest", "not-the-password", "wrong", tls_ca=cluster.ca_file)
    swapped = Client(
        cluster.mqtt_ports[2], "m-1", cluster.pw["m-2"], "m-1", tls_ca=cluster.ca_file
    )  # another meter's password
    ok = Client(cluster.mqtt_ports[2], "m-1", cluster.pw["m-1"], "m-1", tls_ca=cluster.ca_file)
    assert anon.refused != 0 and wrong.refused != 0 and swapped.refused != 0
    assert ok.refused == 0
    for c in (anon, wrong, swapped, ok):
        c.close()


def test_a_meter_publishes_only_its_own_readings_and_only_the_operator_writes_config(cluster):
    pw, pt = cluster.pw, cluster.partition_topic
    ingest = _ingest(cluster, "ing-pub")
    m2 = Client(cluster.mqtt_ports[2], "m-2", pw["m-2"], "m-2-pub", tls_ca=cluster.ca_file)
    m2.sub("wm/v1/m-2/config")
    m1 = Client(cluster.mqtt_ports[1], "m-1", pw["m-1"], "m-1-pub", tls_ca=cluster.ca_file)
    own, other = partition_of("m-1", WORKERS), partition_of("m-2", WORKERS)
    m1.pub("wm/v1/m-1/readings", b"mine")
    m1.pub("wm/v1/m-2/readings", b"forged")  # maps to m-2's partition subject: refused there
    m1.pub(f"{pt}/{other}/m-2", b"forged-direct")  # the partition subject itself
    m1.pub(f"{pt}/{(own + 1) % WORKERS}/m-1", b"wrong-partition")  # its own id, another worker's
    m1.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":1000}')  # a meter writing config
    ingest.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":999}')  # the ingest writing config
    op = Client(
        cluster.mqtt_ports[0], "wm-operator", cluster.credentials["wm-operator"], "op", tls_ca=cluster.ca_file
    )
    op.pub("wm/v1/m-2/config", b'{"v":1,"interval_s":60}')
    time.sleep(1.5)
    assert ingest.got == [(f"{pt}/{own}/m-1", b"mine")]
    assert [p for _t, p in m2.got] == [b'{"v":1,"interval_s":60}']
    for c in (ingest, m1, m2, op):
        c.close()


def test_a_meter_cannot_read_other_meters_readings_or_the_partitions(cluster):
    pw, pt = cluster.pw, cluster.partition_topic
    ingest = _ingest(cluster, "ing-sub", node=2)
    spy = Client(cluster.mqtt_ports[0], "m-1", pw["m-1"], "m-1-spy", tls_ca=cluster.ca_file)
    for topic in ("wm/v1/+/readings", "wm/v1/m-2/readings", f"{pt}/+/+", f"{pt}/#", "#", "wm/v1/m-2/config"):
        spy.sub(topic)
    for topic in ("$MQTT/sub/#", "$MQTT/#"):  # the server's own subjects for QoS 1 deliveries
        spy.sub(topic)
    m2 = Client(cluster.mqtt_ports[1], "m-2", pw["m-2"], "m-2-sub", tls_ca=cluster.ca_file)
    m2.pub("wm/v1/m-2/readings", b"m-2's")
    op = Client(
        cluster.mqtt_ports[1],
        "wm-operator",
        cluster.credentials["wm-operator"],
        "op-sub",
        tls_ca=cluster.ca_file,
    )
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
    ok = Client(
        cluster.mqtt_ports[0], "m-1", cluster.pw["m-1"], "m-1-mqtt", tls_ca=cluster.ca_file
    )  # the same password on MQTT
    assert ok.refused == 0
    ok.close()


def _route_answer(s: socket.socket | ssl.SSLSocket) -> bytes:
    """What a node answers a route CONNECT without credentials (until its first error, or the close)."""
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"rogue","cluster":"wm"}\r\nPING\r\n')
    answer = b""
    deadline = time.monotonic() + 8
    try:
        while b"-ERR" not in answer and b"PONG" not in answer and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (TimeoutError, ConnectionResetError, ssl.SSLError):
        pass
    return answer


def _tls_route(cluster, cert, key) -> ssl.SSLSocket:
    """A TLS connection to node 0's route port presenting `cert` (routes start with the handshake)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cluster.ca_file)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", cluster.route_ports[0]), timeout=8)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_node_without_the_route_certificate_or_credentials_cannot_join(cluster, tmp_path):
    """A rogue server dialling a route port (it would receive every message the cluster routes): in plain
    text, with a certificate of another CA, and with the cluster's own route certificate but no password."""
    with socket.create_connection(("127.0.0.1", cluster.route_ports[0]), timeout=8) as s:
        answer = _route_answer(s)  # no TLS: the node waits for a handshake, says nothing, and closes
    assert b"INFO" not in answer and b"PONG" not in answer, answer
    rogue = issue_cert(tmp_path / "rogue", "route", ["127.0.0.1"], client=True)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with _tls_route(cluster, rogue, rogue.with_suffix(".key")) as t:
            t.recv(4096)  # TLS 1.3: the refusal of the client's certificate comes after the handshake
    tls = cluster.tls_dir  # a stolen route certificate, without the password
    with _tls_route(cluster, tls / "route.crt", tls / "route.key") as t:
        info = t.recv(4096)
        assert info.startswith(b"INFO ") and b'"tls_verify":true' in info, info
        answer = _route_answer(t)
    assert b"Authorization Violation" in answer, answer


def test_mqtt_without_tls_is_refused(cluster):
    """A meter (or anyone) speaking plain MQTT to a node, with a right password: no CONNACK, ever."""
    for node in range(3):
        with socket.create_connection(("127.0.0.1", cluster.mqtt_ports[node]), timeout=5) as s:
            s.sendall(connect_packet("m-1-plain", 30, True, "m-1", cluster.pw["m-1"]))
            got = b""
            try:
                while chunk := s.recv(4096):
                    got += chunk
            except (TimeoutError, ConnectionResetError):
                pass
        assert not got.startswith(b"\x20"), got  # 0x20: CONNACK


def test_the_nodes_config_holds_no_password(cluster):
    """auth.conf holds bcrypt hashes, not the services' and meters' passwords; nats.conf holds the routes'
    password only where a node dials its peers with it (`routes`), the hash where it checks it."""
    logins = [cluster.pw["m-1"], cluster.pw["m-2"], *cluster.credentials.values()]
    for node in cluster.nodes:
        auth = (node.workdir / "auth.conf").read_text()
        assert auth.count('password: "$2a$') == len(cluster.credentials) + len(cluster.pw)
        assert not any(secret in auth for secret in logins)
        conf = (node.workdir / "nats.conf").read_text()
        assert 'authorization { user: route, password: "$2a$' in conf
        assert conf.count(cluster.route_password) == len(cluster.nodes)  # the three route URLs
        assert not any(secret in conf for secret in logins)
