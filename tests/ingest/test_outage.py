"""Outages: InfluxDB down (no acks, broker queues, nothing lost); broker restart (reconnect, resubscribe)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devservices.influx import Influx
from storage.readings.influx import InfluxStore
from tests.conftest import wait_for
from tests.ingest.conftest import T0, batch, metric, publish_many


def msgs(meters: int, minutes: range) -> list[tuple[str, bytes]]:
    return [
        (f"wm/v1/o-{m}/readings", batch(f"o-{m}", [(i, T0 + 60 * i, i * 2.5)]))
        for i in minutes
        for m in range(meters)
    ]


@pytest.fixture
def own_influx(tmp_path) -> Iterator[Influx]:
    """An InfluxDB of this test alone: it is stopped and started again."""
    server = Influx(tmp_path / "influx")
    (tmp_path / "influx").mkdir()
    server.start()
    yield server
    server.cleanup()


def test_influx_down_holds_acks_then_backlog_drains(own_influx, mosquitto, start_worker):
    store = InfluxStore.at(own_influx.url, "outage")
    worker = start_worker(store, client_id="outage-ingest", retry_max_s=0.5)
    publish_many(mosquitto.port, msgs(10, range(0, 20)), "o-pub-1")
    wait_for(lambda: store.count_all_readings() == 200, what="readings before the outage")
    wait_for(lambda: worker.acked == 200, timeout_s=10, what="acks before the outage")

    own_influx.stop()
    errors_before = metric("wm_ingest_store_errors_total")
    acked = worker.acked
    publish_many(mosquitto.port, msgs(10, range(20, 60)), "o-pub-2")  # the broker takes them all
    wait_for(
        lambda: metric("wm_ingest_store_errors_total") > errors_before + 2, what="failing writes retried"
    )
    time.sleep(1.0)
    assert worker.acked == acked, "acked while the store was down"
    health = worker.health()
    assert not health["store_ok"] and health["store_failing_for_s"] > 0

    own_influx.start()  # same data dir and port
    wait_for(
        lambda: store.ping(0.2) and store.count_all_readings() == 600, timeout_s=60, what="backlog drained"
    )
    wait_for(lambda: worker.acked >= acked + 400, timeout_s=20, what="backlog acked")
    assert worker.health()["store_ok"]
    for m in range(10):
        assert store.count_readings(f"o-{m}") == 60
        assert store.last_reading(f"o-{m}", T0 + 60 * 59).total_ml == 59 * 2500
    store.close()


def test_broker_restart_mid_stream_reconnects_resubscribes_loses_nothing(
    influx_store, mosquitto, start_worker
):
    worker = start_worker(influx_store, client_id="restart-broker-ingest", batch_max=20)
    publish_many(mosquitto.port, msgs(10, range(0, 100)), "b-pub-1")
    mosquitto.stop()  # SIGTERM mid-stream: mosquitto saves sessions and their queues
    wait_for(lambda: not worker.connected, timeout_s=10, what="worker sees the broker go")
    mosquitto.start()  # same port, same persistence file
    wait_for(lambda: worker.connected, timeout_s=30, what="worker reconnected")
    publish_many(mosquitto.port, msgs(10, range(100, 150)), "b-pub-2")  # needs the subscription back
    wait_for(lambda: influx_store.count_all_readings() == 1500, timeout_s=60, what="every reading stored")
    for m in range(10):
        assert influx_store.count_readings(f"o-{m}") == 150
