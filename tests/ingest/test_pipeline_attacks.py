"""Issue 17's pipeline attacks through the real broker and worker; each fails on f5208de (docs/security.md,
"Pipeline"): silent overwrite, unknown meters, series growth, lax protocol, an InfluxDB without auth."""

from __future__ import annotations

import httpx

from ingest.registry import RegistrySnapshot
from registry import Registry
from storage.sql import Database
from tests.conftest import wait_for
from tests.ingest.conftest import T0


def registry(tmp_path, *meters: str) -> tuple[Registry, RegistrySnapshot]:
    db = Database(f"sqlite:///{tmp_path}/wm.db")
    reg = Registry(db)
    reg.provision_many(list(meters), "test")
    return reg, RegistrySnapshot(db)


def rejected(store, reason: str, meter: str | None = None) -> list:
    return store.rejections(limit=1000, reason=reason, meter=meter)


def test_a_stored_reading_is_never_overwritten(start_worker, publisher, influx_store, tmp_path):
    """Issue 17: a second reading at the same (meter, ts) silently replaced the first (777 L → 1.0 L)."""
    _reg, meters = registry(tmp_path, "m-1")
    worker = start_worker(influx_store, meters=meters)
    publisher.readings("m-1", [(1, T0, 777.0), (2, T0 + 60, 778.0)])
    wait_for(lambda: worker.acked == 1, what="first batch")
    publisher.readings("m-1", [(2, T0 + 60, 1.0)])  # the newest reading, another total
    publisher.readings("m-1", [(1, T0, 1.0), (3, T0 + 120, 779.0)])  # an older one (a store look-up)
    publisher.readings("m-1", [(3, T0 + 120, 779.0)])  # an identical redelivery: harmless
    wait_for(lambda: worker.acked == 4, what="every message acked")
    assert [r.total_ml for r in influx_store.readings("m-1", 0, 2**31)] == [777_000, 778_000, 779_000]
    conflicts = rejected(influx_store, "conflict", "m-1")
    assert len(conflicts) == 2
    assert all("stored 77" in c.detail and "received 1.000 L" in c.detail for c in conflicts), conflicts
    assert worker.events["conflict"] == 2 and worker.events["duplicate"] == 1
    assert worker.state_of("m-1").conflicts == 2


def test_only_registered_active_meters_are_stored(start_worker, publisher, influx_store, tmp_path):
    """Issue 17: any client created 50 fake meters; they were stored, listed and watched."""
    reg, meters = registry(tmp_path, "real-1")
    worker = start_worker(influx_store, meters=meters, registry_refresh_s=0.2)
    for i in range(50):
        publisher.readings(f"fake-{i}", [(1, T0, 1.0)])
    publisher.readings("real-1", [(1, T0, 1.0)])
    wait_for(lambda: worker.acked == 51, what="all acked")
    assert [m.meter for m in influx_store.meters()] == ["real-1"]
    assert len(rejected(influx_store, "unknown_meter")) == 50
    # registered later: stored from then on (the snapshot is refreshed, not asked per reading)
    reg.provision("fake-0", "op")
    wait_for(lambda: "fake-0" in meters, timeout_s=10, what="snapshot refreshed")
    publisher.readings("fake-0", [(2, T0 + 60, 2.0)])
    wait_for(lambda: influx_store.count_readings("fake-0") == 1, what="newly registered meter stored")
    # decommissioned: refused again, what it stored stays
    reg.decommission("real-1", "op", "removed")
    wait_for(lambda: "real-1" not in meters, timeout_s=10, what="snapshot refreshed")
    publisher.readings("real-1", [(2, T0 + 60, 2.0)])
    wait_for(
        lambda: len(rejected(influx_store, "unknown_meter", "real-1")) == 1, what="decommissioned refused"
    )
    assert influx_store.count_readings("real-1") == 1


def test_the_series_limit_guard(start_worker, publisher, influx_store):
    worker = start_worker(influx_store, max_meters=3)
    for i in range(5):
        publisher.readings(f"s-{i}", [(1, T0, 1.0)])
    wait_for(lambda: worker.acked == 5, what="all acked")
    assert influx_store.count_all_readings() == 3
    assert len(rejected(influx_store, "series_limit")) == 2
    publisher.readings("s-0", [(2, T0 + 60, 2.0)])  # a known meter goes on
    wait_for(lambda: influx_store.count_readings("s-0") == 2, what="known meter")


def test_lax_protocol_is_refused_through_the_worker(start_worker, publisher, influx_store):
    """Issue 17: `"v": true` was version 1; descending readings and one ts twice were stored (last won)."""
    worker = start_worker(influx_store)
    publisher.publish(
        "wm/v1/p-1/readings", b'{"v":true,"meter":"p-1","boot":1,"r":[{"seq":1,"ts":%d,"total_l":1}]}' % T0
    )
    publisher.readings("p-2", [(2, T0 + 60, 2.0), (1, T0, 1.0)])
    publisher.readings("p-3", [(1, T0, 777.0), (2, T0, 1.0)])
    wait_for(lambda: worker.acked == 3, what="acked")
    assert influx_store.count_all_readings() == 0
    assert {r.reason for r in influx_store.rejections()} == {"unknown_version", "bad_order"}
    assert len(rejected(influx_store, "bad_order")) == 2


def test_influxdb_refuses_clients_without_credentials(influx):
    """Issue 17: InfluxDB had no authentication; any local client could write and read."""
    base = f"http://127.0.0.1:{influx.port}"
    assert httpx.get(f"{base}/query", params={"q": "SHOW DATABASES"}).status_code == 401
    w = httpx.post(f"{base}/write", params={"db": "water"}, content=b"reading,meter=m-1 total_l=1 1764000000")
    assert w.status_code == 401


def test_a_backlog_replay_is_not_a_flood(start_worker, publisher, influx_store):
    """Issue 16: the flood limit tripped on any fast replay of a day's backlog."""
    worker = start_worker(influx_store, flood_burst=3, flood_rate_per_s=0.001)
    for k in range(30):  # 30 messages of the seqs the meter owes, in order: all stored
        publisher.readings("b-1", [(k, T0 + 60 * k, float(k))])
    wait_for(lambda: worker.acked == 30, what="acked")
    assert influx_store.count_readings("b-1") == 30 and not rejected(influx_store, "flood")
    for _ in range(10):  # the same reading again and again: 3 pass the bucket, 7 are a flood
        publisher.readings("b-1", [(29, T0 + 60 * 29, 29.0)])
    wait_for(lambda: worker.acked == 40, what="acked")
    assert len(rejected(influx_store, "flood")) == 7
