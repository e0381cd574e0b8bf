"""Outbox delivery: webhook down then up, dispatcher restart, leases, MQTT QoS 1 on wm/v1/alerts/<account>."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from billing.alerts import Delivery, raise_alert, resolve
from billing.outbox import Dispatcher, MqttPublisher
from tests.billing.webhook_server import WebhookReceiver
from tests.conftest import wait_for


@pytest.fixture
def hook():
    r = WebhookReceiver()
    yield r
    r.close()


class Clock:
    def __init__(self):
        self.t = datetime(2024, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


def _open(db, delivery, account_id, n, now):
    with db.session() as s:
        for i in range(n):
            raise_alert(
                s,
                delivery,
                account_id=account_id,
                kind="balance_low",
                dedupe_key=f"k{i}",
                title=f"alert {i}",
                details={"i": i},
                now=now,
            )


def test_no_alert_lost_while_webhook_down_none_twice_after_restart(db, accounts, hook):
    delivery = Delivery(webhooks=(hook.url,), mqtt_topic_prefix=None)
    clock = Clock()
    _open(db, delivery, accounts["beijing"], 3, clock())
    hook.down = True
    d1 = Dispatcher(db, clock=clock, base_backoff_s=2)
    s = d1.run_once()
    # First row fails; the other two to the same URL wait behind it (order is kept).
    assert (s.delivered, s.failed, s.deferred) == (0, 1, 2) and hook.refused == 1
    assert d1.run_once().failed == 0 and hook.refused == 1  # failed row backs off; the others still wait
    clock.t += timedelta(seconds=3)
    assert d1.run_once().failed == 1 and hook.refused == 2
    hook.down = False
    clock.t += timedelta(seconds=5)
    s = d1.run_once()
    assert s.delivered == 3
    d1.stop()
    # More alerts while no dispatcher runs, then a fresh dispatcher (a restart).
    with db.session() as sess:
        resolve(sess, delivery, "k0", now=clock())
    _open(db, delivery, accounts["beijing"], 5, clock())  # k1, k2 are live: deduped; k0, k3, k4 new
    d2 = Dispatcher(db, clock=clock)
    assert d2.run_once().delivered == 4
    assert d2.run_once().delivered == 0
    d2.stop()
    ids = [i for i, _ in hook.received]
    assert len(ids) == len(set(ids)) == 7
    events = [(b["event"], b["alert"]["title"]) for _, b in hook.received]
    assert events[:3] == [
        ("alert.opened", "alert 0"),
        ("alert.opened", "alert 1"),
        ("alert.opened", "alert 2"),
    ]
    assert events[3] == ("alert.resolved", "alert 0")
    assert sorted(events[4:]) == [
        ("alert.opened", "alert 0"),
        ("alert.opened", "alert 3"),
        ("alert.opened", "alert 4"),
    ]


def test_crashed_dispatchers_lease_expires_then_another_delivers_once(db, accounts, hook):
    delivery = Delivery(webhooks=(hook.url,), mqtt_topic_prefix=None)
    clock = Clock()
    _open(db, delivery, accounts["beijing"], 2, clock())
    crashed = Dispatcher(db, clock=clock, lease_s=30)
    claimed = crashed._claim(clock())  # claimed, then the process "dies" before sending
    assert len(claimed) == 2
    other = Dispatcher(db, clock=clock, lease_s=30)
    assert other.run_once().delivered == 0 and hook.received == []
    clock.t += timedelta(seconds=31)
    assert other.run_once().delivered == 2
    assert other.pending() == 0
    other.stop()
    crashed.stop()
    assert len(hook.received) == 2


def test_background_dispatcher_recovers_from_real_outage(db, accounts, hook):
    delivery = Delivery(webhooks=(hook.url,), mqtt_topic_prefix=None)
    hook.down = True
    d = Dispatcher(db, base_backoff_s=0.05, max_backoff_s=0.2)
    d.start(poll_s=0.05)
    _open(db, delivery, accounts["shanghai"], 4, datetime.now(UTC))
    wait_for(lambda: hook.refused >= 3, timeout_s=10, what="retries while down")
    hook.down = False
    wait_for(lambda: len(hook.received) == 4, timeout_s=10, what="all 4 delivered after recovery")
    d.stop()
    assert len({i for i, _ in hook.received}) == 4


def test_mqtt_alerts_topic_qos1(db, accounts, mosquitto):
    got: list[tuple[str, dict, int]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alerts-test-sub")
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload), m.qos))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("wm/v1/alerts/#", qos=1)
    sub.loop_start()
    delivery = Delivery(webhooks=(), mqtt_topic_prefix="wm/v1/alerts")
    _open(db, delivery, accounts["guangzhou"], 2, datetime.now(UTC))
    pub = MqttPublisher("127.0.0.1", mosquitto.port, "billing-outbox-test")
    wait_for(pub.client.is_connected, timeout_s=10, what="publisher connected")
    d = Dispatcher(db, mqtt=pub)
    assert d.run_once().delivered == 2
    wait_for(lambda: len(got) == 2, timeout_s=10, what="2 alerts on MQTT")
    d.stop()
    pub.close()
    sub.loop_stop()
    sub.disconnect()
    assert {t for t, _, _ in got} == {"wm/v1/alerts/guangzhou-012345678901"}
    assert {q for _, _, q in got} == {1}
    assert sorted(b["alert"]["title"] for _, b, _ in got) == ["alert 0", "alert 1"]


def test_mqtt_broker_down_keeps_messages(db, accounts):
    delivery = Delivery(webhooks=(), mqtt_topic_prefix="wm/v1/alerts")
    _open(db, delivery, accounts["guangzhou"], 1, datetime.now(UTC))
    d = Dispatcher(db, mqtt=None)
    assert d.run_once().failed == 1
    assert d.pending() == 1
    d.stop()
