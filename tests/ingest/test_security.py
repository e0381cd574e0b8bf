"""Broker security: provisioned per-meter credentials, ACL (own topics only) and the TLS listener."""

from __future__ import annotations

import importlib.util
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devservices.mosquitto import Mosquitto
from devservices.provision import add_service, main, provision_meter
from tests.conftest import wait_for
from tests.ingest.conftest import REPO, T0, batch


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[tuple[Mosquitto, Path, dict]]:
    root = tmp_path_factory.mktemp("secure")
    broker_dir = root / "broker"
    assert (
        main(
            [
                "m-a",
                "m-b",
                "--broker-dir",
                str(broker_dir),
                "--out-dir",
                str(root / "out"),
                "--host",
                "127.0.0.1",
            ]
        )
        == 0
    )
    creds = {m: json.loads((root / "out" / m / "site_config.json").read_text()) for m in ("m-a", "m-b")}
    creds["wm-ingest"] = {"mqtt_user": "wm-ingest", "mqtt_password": add_service(broker_dir, "wm-ingest")}
    creds["wm-operator"] = {
        "mqtt_user": "wm-operator",
        "mqtt_password": add_service(broker_dir, "wm-operator", "operator"),
    }
    (root / "mq").mkdir()
    broker = Mosquitto.secured(broker_dir, root / "mq")
    broker.start()
    yield broker, broker_dir, creds
    broker.cleanup()


def connect(
    broker: Mosquitto,
    broker_dir: Path,
    user: str | None,
    password: str | None,
    client_id: str,
    tls: bool = True,
    on_message=None,
) -> tuple[mqtt.Client, int]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(ca_certs=str(broker_dir / "tls" / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    result: dict = {}
    done = threading.Event()

    def on_connect(_c, _u, _f, rc, _p):
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    if on_message:
        client.on_message = on_message
    client.connect("127.0.0.1", broker.tls_port if tls else broker.port)
    client.loop_start()
    assert done.wait(10), "no CONNACK"
    return client, result["rc"].value


def test_site_config_is_valid_firmware_config(secured, tmp_path):
    _broker, broker_dir, creds = secured
    spec = importlib.util.spec_from_file_location("fw_config", REPO / "firmware" / "config.py")
    fw_config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fw_config)
    cfg = creds["m-a"]
    # config_key: the board's key for signed config commands (docs/protocol.md); the firmware's side of
    # signed commands is the firmware's to add (reported), every other key it must know.
    unknown = set(cfg) - set(fw_config.DEFAULTS) - {"config_key"}
    assert not unknown, f"site_config keys the firmware does not know: {unknown}"
    assert len(cfg["config_key"]) == 64 and cfg["config_key"] != creds["m-b"]["config_key"]
    assert (cfg["meter_id"], cfg["mqtt_user"], cfg["mqtt_tls"]) == ("m-a", "m-a", True)
    assert cfg["broker_port"] == 8883
    assert len(cfg["mqtt_password"]) >= 24 and creds["m-a"]["mqtt_password"] != creds["m-b"]["mqtt_password"]
    assert b"m-a:" in (broker_dir / "passwd").read_bytes() and b"m-b:" in (broker_dir / "passwd").read_bytes()


def test_unknown_or_wrong_credentials_are_refused(secured):
    broker, broker_dir, creds = secured
    for user, password in ((None, None), ("m-a", "wrong-password"), ("nobody", "x")):
        client, rc = connect(broker, broker_dir, user, password, f"bad-{user}")
        client.loop_stop()
        assert rc != 0, f"{user} was let in"


def test_meter_cannot_publish_on_another_meters_topic(secured):
    broker, broker_dir, creds = secured
    got: list[tuple[str, bytes]] = []
    ingest, rc = connect(
        broker,
        broker_dir,
        "wm-ingest",
        creds["wm-ingest"]["mqtt_password"],
        "sec-ingest",
        on_message=lambda _c, _u, m: got.append((m.topic, m.payload)),
    )
    assert rc == 0
    ingest.subscribe("wm/v1/+/readings", qos=1)
    meter_a, rc = connect(broker, broker_dir, "m-a", creds["m-a"]["mqtt_password"], "m-a")
    assert rc == 0
    wait_for(lambda: ingest.is_connected(), what="subscribed")
    forged = meter_a.publish("wm/v1/m-b/readings", batch("m-b", [(1, T0, 1.0)]), qos=1)
    forged.wait_for_publish(10)
    # mosquitto 2.0.11 logs "Denied PUBLISH" and answers a 3.1.1 client with an MQTT 5 style
    # PUBACK (reason 135) that paho reads as a protocol error: the forger is disconnected.
    wait_for(lambda: not meter_a.is_connected(), timeout_s=5, what="forger disconnected")
    meter_a.loop_stop()
    meter_a, rc = connect(broker, broker_dir, "m-a", creds["m-a"]["mqtt_password"], "m-a")
    meter_a.publish("wm/v1/m-a/readings", batch("m-a", [(1, T0, 1.0)]), qos=1).wait_for_publish(10)
    wait_for(lambda: any(t == "wm/v1/m-a/readings" for t, _ in got), what="m-a's own reading")
    # the forged message was published before m-a's own one: it would be here by now
    assert [t for t, _ in got] == ["wm/v1/m-a/readings"]
    meter_a.loop_stop()
    ingest.loop_stop()


def test_meter_reads_only_its_own_config(secured):
    broker, broker_dir, creds = secured
    # issue 17: the ingest's account wrote l_per_pulse=1000 to a board; now only the operator's may
    ingest, _ = connect(broker, broker_dir, "wm-ingest", creds["wm-ingest"]["mqtt_password"], "sec-ingest")
    ingest.publish("wm/v1/m-a/config", b'{"v": 1, "id": "evil", "l_per_pulse": 1000}', qos=0, retain=True)
    ingest.loop_stop()
    operator, _ = connect(
        broker, broker_dir, "wm-operator", creds["wm-operator"]["mqtt_password"], "sec-operator"
    )
    for meter in ("m-a", "m-b"):
        operator.publish(
            f"wm/v1/{meter}/config", json.dumps({"v": 1, "id": meter}).encode(), qos=1, retain=True
        ).wait_for_publish(10)
    got: list[str] = []
    payloads: list[bytes] = []
    meter_a, _ = connect(
        broker,
        broker_dir,
        "m-a",
        creds["m-a"]["mqtt_password"],
        "m-a-sub",
        on_message=lambda _c, _u, m: (got.append(m.topic), payloads.append(m.payload)),
    )
    meter_a.subscribe([("wm/v1/m-b/config", 1), ("wm/v1/m-a/config", 1)])
    wait_for(lambda: "wm/v1/m-a/config" in got, what="own retained config")
    assert payloads == [b'{"v": 1, "id": "m-a"}']  # the operator's, never the ingest's forgery
    meter_a.publish("wm/v1/m-a/status", b'{"v": 1, "state": "online"}', qos=1).wait_for_publish(10)
    assert got == ["wm/v1/m-a/config"]
    meter_a.loop_stop()
    operator.loop_stop()


def test_tls_listener_rejects_an_untrusted_server_name(secured, tmp_path):
    broker, broker_dir, creds = secured
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-check")
    client.username_pw_set("m-a", creds["m-a"]["mqtt_password"])
    client.tls_set(ca_certs=str(broker_dir / "tls" / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.connect("localhost", broker.tls_port)  # the certificate names 127.0.0.1 only
    # and plain MQTT on the TLS port does not get a CONNACK
    plain = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain-on-tls")
    plain.username_pw_set("m-a", creds["m-a"]["mqtt_password"])
    plain.connect("127.0.0.1", broker.tls_port)
    plain.loop_start()
    time.sleep(2)
    assert not plain.is_connected()
    plain.loop_stop()


def test_provision_refuses_bad_meter_id(tmp_path):
    from devservices.provision import ProvisionError

    with pytest.raises(ProvisionError, match="meter id"):
        provision_meter("bad id/..", tmp_path / "b", tmp_path / "o.json", "127.0.0.1", 8883)
