"""The worker's ops endpoints (/metrics, /healthz, /state/<meter>) and its JSON logs."""

from __future__ import annotations

import json
import logging

import httpx

from ingest.http import OpsServer
from ingest.logs import JsonFormatter
from tests.conftest import wait_for
from tests.ingest.conftest import series


def test_metrics_health_and_state_endpoints(start_worker, publisher, sqlite_store, mosquitto):
    worker = start_worker(sqlite_store, client_id="http-ingest")
    ops = OpsServer(worker, "127.0.0.1", 0)
    ops.start()
    base = f"http://127.0.0.1:{ops.port}"
    try:
        publisher.readings("h-1", series(3))
        wait_for(lambda: sqlite_store.count_readings("h-1") == 3, what="stored")
        wait_for(lambda: worker.acked == 1, timeout_s=5, what="acked")
        text = httpx.get(f"{base}/metrics").text
        for name in (
            "wm_ingest_messages_received_total",
            "wm_ingest_readings_written_total",
            "wm_ingest_messages_rejected_total",
            "wm_ingest_readings_duplicate_total",
            "wm_ingest_batch_write_seconds_bucket",
            "wm_ingest_reading_lag_seconds_bucket",
            "wm_ingest_receive_to_stored_seconds_bucket",
            "wm_ingest_inflight_messages",
            'wm_ingest_reading_events_total{kind="new"}',
        ):
            assert name in text, name
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["ok"] and health.json()["written"] == 3
        state = httpx.get(f"{base}/state/h-1").json()
        assert (state["seq"], state["readings"], state["total_ml"]) == (2, 3, 3000)
        assert httpx.get(f"{base}/state/nobody").status_code == 404
        assert httpx.get(f"{base}/state/..%2Fetc").status_code == 404
        mosquitto.stop()
        wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 503, timeout_s=10, what="unhealthy")
        assert httpx.get(f"{base}/healthz").json()["connected"] is False
    finally:
        ops.stop()


def test_logs_are_one_json_object_per_line():
    record = logging.LogRecord("ingest", logging.WARNING, __file__, 1, "store write failed %s", ("x",), None)
    record.fields = {"readings": 12, "error": 'a "quoted"\nerror'}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "warning" and doc["msg"] == "store write failed x" and doc["readings"] == 12
    assert doc["t"].endswith("Z")
