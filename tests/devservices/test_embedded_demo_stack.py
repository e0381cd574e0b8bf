"""`make demo`'s fallback stack (no mosquitto, no influxd): amqtt broker + SQLite store, real firmware; the
broker closed like mosquitto (a user per meter, the ingest its own account), only registered meters stored."""

from __future__ import annotations

from devservices.embedded_broker import EmbeddedBroker
from hardware_sim.fleet import FleetSpec, run_fleet
from ingest.config import IngestSettings
from ingest.registry import RegistrySnapshot
from ingest.worker import IngestWorker
from registry import Registry
from storage.readings.sqlite import SqliteStore
from storage.sql import Database
from tests.conftest import sim_start, wait_for


def test_firmware_readings_reach_sqlite_through_the_embedded_broker(tmp_path):
    broker = EmbeddedBroker(closed=True)
    broker.start()
    meters = ["sim-0000", "sim-0001"]
    credentials = {m: (m, pw) for m, pw in broker.add_meters(meters).items()}
    db = Database(f"sqlite:///{tmp_path}/wm.db")
    Registry(db).provision_many(meters, "test")
    store = SqliteStore(str(tmp_path / "water.db"))
    worker = IngestWorker(
        IngestSettings(
            broker_host="127.0.0.1",
            broker_port=broker.port,
            broker_user="wm-ingest",
            broker_password=broker.credentials["wm-ingest"],
            client_id="emb-ingest",
            state_path=str(tmp_path / "state.db"),
        ),
        store,
        meters=RegistrySnapshot(db),
    )
    try:
        worker.start()
        assert worker.wait_connected(15)
        start = sim_start(days_ago=1)
        duration_s = 3 * 3600
        summary = run_fleet(
            FleetSpec(
                meters=2,
                duration_s=duration_s,
                broker_host="127.0.0.1",
                broker_port=broker.port,
                start_unix_s=start,
                seed=7,
                state_dir=tmp_path / "boards",
                progress=False,
                credentials=credentials,
            )
        )
        truth = {m: round(v["registered_l"] * 1000) for m, v in summary["meters"].items()}
        stop = start + duration_s + 75
        wait_for(
            lambda: all(store.last_reading(m, stop).total_ml == ml for m, ml in truth.items()),
            timeout_s=60,
            what="final totals in the SQLite store",
        )
        assert sum(truth.values()) > 0
        every_minute = (stop - start) // 60 + 1
        wait_for(
            lambda: all(store.count_readings(m) == every_minute for m in truth),
            timeout_s=60,
            what="every minute reading",
        )
        for meter in truth:  # the reading at boot: after the board's boot and Wi-Fi join, before a minute
            assert store.last_reading(meter, start + 59).total_ml == 0
    finally:
        worker.stop()
        store.close()
        broker.stop()
