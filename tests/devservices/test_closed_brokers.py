"""Both brokers are closed (issue 17): no anonymous client, a meter publishes only its own topics, only the
operator writes config, TLS on mosquitto's device listener. Each case fails on f5208de's open brokers."""

from __future__ import annotations

import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devservices.embedded_broker import EmbeddedBroker
from devservices.mosquitto import Mosquitto


class Client:
    """A paho client that records what it receives and whether it is connected."""

    def __init__(self, port: int, user: str | None, password: str | None, cid: str, tls_ca=None):
        self.got: list[tuple[str, bytes]] = []
        self.refused: int | None = None
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid)
        if user is not None:
            self.c.username_pw_set(user, password)
        if tls_ca is not None:
            self.c.tls_set(ca_certs=str(tls_ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload))
        self.c.on_connect = self._on_connect
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.ready.wait(10)

    def _on_connect(self, _c, _u, _f, rc, _p):
        self.refused = rc.value if rc.is_failure else 0
        self.ready.set()

    def sub(self, topic: str) -> None:
        self.c.subscribe(topic, qos=1)
        time.sleep(0.4)

    def pub(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=0)
        time.sleep(0.1)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture(params=["mosquitto", "embedded"])
def broker(request, tmp_path):
    if request.param == "mosquitto":
        b = Mosquitto.closed(tmp_path)
        b.start()
    else:
        b = EmbeddedBroker()
        b.start()
    yield b
    b.stop() if request.param == "embedded" else b.cleanup()


def test_anonymous_and_wrong_passwords_are_refused(broker):
    anon = Client(broker.port, None, None, "anon")
    wrong = Client(broker.port, "wm-ingest", "not-the-password", "wrong")
    assert anon.refused != 0 and wrong.refused != 0
    anon.close()
    wrong.close()


def test_a_meter_publishes_only_its_own_readings_and_only_the_operator_writes_config(broker):
    pw = {m: broker.add_meter(m) for m in ("m-1", "m-2")}
    ingest = Client(broker.port, "wm-ingest", broker.credentials["wm-ingest"], "ing")
    ingest.sub("wm/v1/+/readings")
    m2 = Client(broker.port, "m-2", pw["m-2"], "m-2")
    m2.sub("wm/v1/m-2/config")
    m1 = Client(broker.port, "m-1", pw["m-1"], "m-1")
    m1.sub("wm/v1/m-2/config")  # another meter's config: refused (never delivered)
    m1.pub("wm/v1/m-1/readings", b"mine")
    m1.pub("wm/v1/m-2/readings", b"forged")
    m1.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":1000}')  # a meter writing config
    ingest.pub("wm/v1/m-2/config", b'{"v":1,"l_per_pulse":999}')  # the ingest writing config
    op = Client(broker.port, "wm-operator", broker.credentials["wm-operator"], "op")
    op.pub("wm/v1/m-2/config", b'{"v":1,"interval_s":60}')
    time.sleep(1.0)
    assert [p for t, p in ingest.got] == [b"mine"]
    assert [p for t, p in m2.got] == [b'{"v":1,"interval_s":60}']
    assert m1.got == []
    for c in (ingest, m1, m2, op):
        c.close()


def test_mosquitto_device_listener_is_tls_and_verifies(tmp_path):
    b = Mosquitto.closed(tmp_path)
    b.start()
    try:
        pw = b.add_meter("m-9")
        ok = Client(b.tls_port, "m-9", pw, "tls-ok", tls_ca=b.ca_file)
        assert ok.refused == 0
        ok.close()
        with pytest.raises(ssl.SSLError):  # a client that verifies refuses a broker it cannot verify
            Client(b.tls_port, "m-9", pw, "tls-bad", tls_ca=tmp_path / "broker" / "tls" / "server.crt")
    finally:
        b.cleanup()
