"""wmbusmeters JSON → Reading, and the MQTT bridge into a real InfluxDB through a real mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.wmbus import WmbusError, parse_wmbus
from registry import Registry
from storage.sql import Database
from tests.conftest import wait_for
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.raw import fetch_readings
from vee.service import VeeService

NOW = 1_767_225_600 + 86400


def msg(**over) -> bytes:
    doc = {
        "media": "water",
        "meter": "iperl",
        "name": "kitchen",
        "id": "12345678",
        "total_m3": 123.456,
        "timestamp": "2026-01-01T10:00:00Z",
    }
    doc.update(over)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_wmbusmeters_json_becomes_a_reading():
    r = parse_wmbus(msg(), now_s=NOW)
    assert (r.meter, r.ts_s, r.total_ml, r.source) == ("12345678", 1_767_261_600, 123_456_000, "wmbus")
    assert (
        parse_wmbus(msg(total_m3=0.001, media="cold water"), now_s=NOW, prefix="wmb-").meter == "wmb-12345678"
    )
    assert parse_wmbus(msg(total_m3=7), now_s=NOW).total_ml == 7_000_000
    assert parse_wmbus(msg(timestamp="2026-01-01T18:00:00+08:00"), now_s=NOW).ts_s == 1_767_261_600


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1, 2]", "malformed"),
        (msg(media="electricity"), "not_water"),
        (msg(media=None), "not_water"),
        (msg(total_m3=None), "missing_total"),
        (msg(total_m3="12"), "missing_total"),
        (msg(total_m3=-1), "bad_total"),
        (msg(total_m3=float("inf")), "bad_total"),
        (msg(id="bad id!"), "schema"),
        (msg(timestamp="yesterday"), "bad_timestamp"),
        (msg(timestamp="2031-01-01T00:00:00Z"), "bad_timestamp"),
        (msg(timestamp=None), "bad_timestamp"),
    ],
)
def test_bad_wmbus_messages_are_refused_with_a_reason(payload, reason):
    with pytest.raises(WmbusError) as err:
        parse_wmbus(payload, now_s=NOW)
    assert err.value.reason == reason


@pytest.mark.timeout(120)
def test_published_wmbus_message_becomes_usage_in_influx(mosquitto, influx, influx_store, tmp_path):
    store_url = influx.store_url(influx_store.database)
    sql_url = f"sqlite:///{tmp_path}/wm.db"
    Registry(Database(sql_url)).provision("12345678", "test")  # only registered meters are stored
    bridge = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingest.wmbus_bridge",
            "--broker",
            mosquitto.address,
            "--topic",
            "wmbusmeters/#",
            "--store",
            store_url,
            "--client-id",
            "t-wmbus",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "WM_STORAGE_SQL_URL": sql_url,
            "WM_WMBUS_BROKER_USER": "wm-wmbus",
            "WM_WMBUS_BROKER_PASSWORD": mosquitto.credentials["wm-wmbus"],
        },
    )
    try:
        now = int(time.time())
        t1, t2 = now - 7200, now - 3600
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-wmbus-pub")
        pub.username_pw_set("wm-wmbus-gw", mosquitto.credentials["wm-wmbus-gw"])
        pub.connect("127.0.0.1", mosquitto.port)
        pub.loop_start()

        def publish_and_check() -> bool:
            # Until the bridge has subscribed, messages go nowhere; publishing again is harmless
            # because a reading's identity is meter + time.
            for ts, m3 in ((t1, 100.0), (t2, 100.25)):
                pub.publish(
                    "wmbusmeters/kitchen", msg(total_m3=m3, timestamp=_iso(ts)), qos=1
                ).wait_for_publish(5)
            pub.publish(
                "wmbusmeters/garage", b'{"media":"gas","id":"1","total_m3":1}', qos=1
            ).wait_for_publish(5)
            time.sleep(0.3)
            return len(fetch_readings(influx_store, "12345678", 0, now)) == 2

        wait_for(publish_and_check, timeout_s=30, interval_s=0.5, what="two wmbus readings in InfluxDB")
        pub.loop_stop()
        pub.disconnect()
        vee = VeeService(influx_store, VeeDb("sqlite://"), VeeConfig())
        view = vee.view("12345678", t1 - 60, t2 + 60)
        assert view.series.consumption(t1 - 60, t2 + 60) == 250_000  # 0.25 m³ in ml, the register difference
        assert {r.source for r in view.raw} == {"wmbus"}
        wait_for(
            lambda: any(r.reason == "not_water" for r in influx_store.rejections()),
            timeout_s=10,
            what="the gas message in the dead-letter store",
        )
    finally:
        bridge.terminate()
        out, _ = bridge.communicate(timeout=10)
    assert bridge.returncode == 0, out.decode(errors="replace")[-2000:]


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
