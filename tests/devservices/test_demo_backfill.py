"""The background backfill and the embedded fallback of `make demo`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx

from core.consumption import Span, mark
from core.timezones import zone
from core.usage import MeterGrid, usage_from_grid
from devservices.demo import start_demo
from devservices.influx import Influx
from devservices.ports import free_port
from devservices.seed.run import Backfill, SeedSpec, seed
from storage.readings import open_store
from storage.readings.flows import InfluxFlows
from tests.conftest import wait_for


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_backfill_writes_every_older_minute_newest_first_and_they_fold_to_the_rollups(tmp_path):
    influx = Influx(tmp_path / "influx")
    (tmp_path / "influx").mkdir()
    influx.start()
    url = influx.store_url("water")
    try:
        spec = SeedSpec(households=6, months=1, now_s=int(time.time()) - 86400, minute_days=1, workers=1)
        seeded = seed(spec, url, f"sqlite:///{tmp_path}/wm.db", progress=False)
        plan = seeded.plan
        store = open_store(url)
        meter = plan.homes[4].meter_id  # the dripping tap
        expected = (plan.now_s - plan.origin_s) // 60 + 1
        assert store.count_readings(meter) == 1440  # before: only the recent day's minutes
        fill = Backfill(spec, seeded, url, progress=False).start()
        time.sleep(0.5)
        mid = store.count_readings(meter)
        assert fill.join(timeout=300) and fill.error is None
        if mid < expected:  # caught in the middle: the newest days came first
            assert (
                store.readings(meter, plan.now_s - 3 * 86400, plan.now_s)[0].ts_s
                == plan.now_s - 3 * 86400 + 60
            )
        for h in plan.homes:
            assert store.count_readings(h.meter_id) == expected
        # Every hour's seeded roll-up equals the rule over the readings the backfill wrote.
        b0 = plan.origin_s
        bn = plan.now_s - plan.now_s % 3600
        steps = [(s, span) for s, span, _p in store.step_spans(meter, b0, bn, 3600)]
        first = store.last_reading(meter, b0)
        from_readings = usage_from_grid(
            MeterGrid(steps, Span.of(mark(first))), list(range(b0, bn + 1, 3600)), 3600
        )
        grid = InfluxFlows(store.conn).grids([meter], b0, bn, 3600)[0]  # the API's path: roll-ups
        from_rollups = usage_from_grid(grid, list(range(b0, bn + 1, 3600)), 3600)
        assert [iv.used_ml for iv in from_rollups.intervals] == [iv.used_ml for iv in from_readings.intervals]
        assert from_rollups.total_ml > 0
        store.close()
    finally:
        influx.stop()
        influx.cleanup()


def test_embedded_fallback_seeds_sqlite_and_answers_a_year(tmp_path):
    now_s = int(time.time()) - 86400
    demo = start_demo(
        tmp_path / "demo",
        households=6,
        months=13,
        firmware_meters=0,
        speed=0,
        port=free_port(),
        duration_s=1800,
        embedded=True,
        minute_days=2,
        progress=False,
        now_s=now_s,
    )
    try:
        assert demo.store_url.startswith("sqlite:") and demo.backfill is None
        assert demo.ready_s < 60
        plan = demo.seeded.plan
        home = plan.homes[0]
        r = httpx.get(
            f"{demo.base_url}/v1/meters/{home.meter_id}/usage",
            params={
                "start": _iso(plan.origin_s),
                "stop": _iso(plan.origin_s + 300 * 86400),
                "every": "1d",
                "tz": plan.zone_name,
            },
            headers={"Authorization": f"Bearer {demo.operator_token}"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        days = r.json()["intervals"]
        seeded = demo.seeded.homes[home.meter_id].litres
        for day in days[:300]:
            d = datetime.fromisoformat(day["start"]).astimezone(zone(plan.zone_name)).date()
            assert day["used_l"] == float(seeded[d]), d
        demo.fleet.join(timeout=300)
        store = open_store(demo.store_url)
        # The meters have published; the ingest stores and acknowledges on its own thread.
        wait_for(
            lambda: store.readings(home.meter_id, plan.now_s, plan.now_s + 1800),
            timeout_s=60,
            what=f"the live readings of {home.meter_id} in the store",
        )
        live = store.readings(home.meter_id, plan.now_s, plan.now_s + 1800)
        assert live and live[0].seq == demo.seeded.homes[home.meter_id].seq + 1
        assert live[0].total_ml >= demo.seeded.homes[home.meter_id].total_ml
        store.close()
    finally:
        demo.stop()
