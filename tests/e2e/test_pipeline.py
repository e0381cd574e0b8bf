"""The walking skeleton end to end: real firmware in MicroPython → mosquitto → ingest → InfluxDB → API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from hardware_sim.fleet import FleetSpec, run_fleet
from ingest.config import IngestSettings
from ingest.worker import IngestWorker
from storage.config import StorageSettings
from storage.readings.influx import InfluxStore
from tests.conftest import sim_start, wait_for
from tests.storage.test_rollup import rollups_match


@pytest.mark.timeout(300)
def test_firmware_litres_reach_influx_and_api_exactly(mosquitto, influx, tmp_path):
    db = f"e2e_{secrets.token_hex(3)}"
    store = InfluxStore.at(influx.url, db)
    worker = IngestWorker(
        IngestSettings(
            broker_host="127.0.0.1",
            broker_port=mosquitto.port,
            client_id="e2e-ingest",
        ),
        store,
    )
    worker.start()
    assert worker.wait_connected()

    start = sim_start(days_ago=2)
    duration_s = 6 * 3600
    summary = run_fleet(
        FleetSpec(
            meters=3,
            duration_s=duration_s,
            broker_host="127.0.0.1",
            broker_port=mosquitto.port,
            start_unix_s=start,
            seed=42,
            state_dir=tmp_path / "boards",
            progress=False,
            l_per_pulse=0.5,
        )
    )
    truth = {m: round(v["registered_l"] * 1000) for m, v in summary["meters"].items()}
    assert len(truth) == 3
    assert all(ml > 0 for ml in truth.values()), f"every household should draw water: {truth}"
    stop = start + duration_s + summary_drain(summary)

    # The last reading of each meter must be stored; then compare everything.
    def all_stored():
        return all(store.last_reading(m, stop).total_ml == ml for m, ml in truth.items())

    wait_for(all_stored, timeout_s=60, what="final readings in InfluxDB")
    # The drain readings after the last draw carry the same total: wait for every one of them.
    expected_count = (stop - start) // 60 + 1
    wait_for(
        lambda: all(store.count_readings(m) == expected_count for m in truth),
        timeout_s=60,
        what="every minute reading in InfluxDB",
    )
    worker.stop()

    token = secrets.token_urlsafe(24)
    app = create_app(
        ApiSettings(
            storage=StorageSettings(readings_url=influx.store_url(db), sql_url=f"sqlite:///{tmp_path}/wm.db"),
            tokens=token,
        )
    )
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        meters = client.get("/v1/meters", headers=auth).json()
        assert sorted(m["meter_id"] for m in meters) == sorted(truth)
        for meter, ml in truth.items():
            # The boot reading (total 0) lands within the first minute: the simulated boot
            # takes about a second plus the Wi-Fi join. Usage from start is the truth.
            assert store.last_reading(meter, start + 59).total_ml == 0
            resp = client.get(
                f"/v1/meters/{meter}/usage",
                headers=auth,
                params={"start": iso(start), "stop": iso(stop), "every": "1h"},
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert round(body["total_l"] * 1000) == ml, (meter, body["total_l"], ml / 1000)
            assert sum(round(i["used_l"] * 1000) for i in body["intervals"]) == ml
            assert body["resets"] == 0
            # Minute resolution agrees with hourly, and the store holds one point per reading.
            minute = client.get(
                f"/v1/meters/{meter}/usage",
                headers=auth,
                params={"start": iso(start), "stop": iso(stop), "every": "1m"},
            ).json()
            assert round(minute["total_l"] * 1000) == ml
            assert store.count_readings(meter) == (stop - start) // 60 + 1
            # The hourly usage above came from the ingest's roll-ups; they match the readings.
            assert rollups_match(store, store.readings(meter, 0, 2**31))
        assert (
            client.get("/v1/meters", headers={"Authorization": "Bearer wrong-token-000000"}).status_code
            == 401
        )
    store.close()


def summary_drain(summary: dict) -> int:
    return 75


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def test_api_is_reachable_over_http(influx, tmp_path):
    """The OpenAPI document is served at /docs and /openapi.json."""
    from devservices.ports import free_port
    from tests.conftest import ServerThread

    token = secrets.token_urlsafe(24)
    port = free_port()
    settings = ApiSettings(
        storage=StorageSettings(
            readings_url=influx.store_url("docs_check"), sql_url=f"sqlite:///{tmp_path}/wm.db"
        ),
        tokens=token,
    )
    server = ServerThread(create_app(settings), port)
    server.start()
    try:
        wait_for(lambda: server.server.started, timeout_s=10, what="uvicorn start")
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert "/v1/meters/{meter_id}/usage" in spec["paths"]
    finally:
        server.stop()
