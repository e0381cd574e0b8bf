"""Fleet views and usage on InfluxDB agree with the readings (and with the SQLite store)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest

from core.readings import Reading
from tests.dashboard_api.conftest import DAYS, T0_S
from tests.oracle import peak_lpm, used_per_interval


def iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


@pytest.fixture(params=["sqlite", "influx"])
def fleet_env(request, make_env):
    if request.param == "sqlite":
        return make_env()
    influx = request.getfixturevalue("influx")
    return make_env(influx.store_url(f"api_{secrets.token_hex(3)}"))


def test_top_consumers_rank_by_use(fleet_env):
    env = fleet_env
    a, b = T0_S + 3600, T0_S + 86400 + 3600
    body = env.client.get(
        "/v1/fleet/top-consumers", headers=env.utility, params={"start": iso(a), "stop": iso(b), "limit": 2}
    ).json()
    want = {}
    for meter, rows in env.readings.items():
        at = lambda t, rows=rows: [r.total_ml for r in rows if r.ts_s <= t][-1]  # noqa: E731
        want[meter] = max(at(b) - at(a), 0)
    ranked = sorted(want, key=lambda m: (-want[m], m))[:2]
    assert [c["meter_id"] for c in body] == ranked
    assert [round(c["used_l"] * 1000) for c in body] == [want[m] for m in ranked]


def test_silent_meters(fleet_env):
    env = fleet_env
    now = int(time.time())
    env.store.write_readings([Reading("m-live", now - 60, 5, 1, 1)])
    body = env.client.get("/v1/fleet/silent", headers=env.utility, params={"hours": 2}).json()
    assert [s["meter_id"] for s in body] == sorted(env.readings)  # the sample data is old; m-live is not
    assert all(s["silent_h"] > 2 for s in body)
    assert env.client.get("/v1/fleet/silent", headers=env.utility, params={"hours": 0}).status_code == 422


def test_alerts_and_rejections(fleet_env):
    env = fleet_env
    alerts = env.client.get("/v1/fleet/alerts", headers=env.utility).json()
    assert [(a["meter_id"], a["kind"], a["state"]) for a in alerts] == [("m-a2", "leak", "open")]
    rej = env.client.get("/v1/fleet/rejections", headers=env.utility, params={"limit": 5}).json()
    assert [(r["reason"], r["payload"]) for r in rej] == [("bad_json", "{oops")]


def test_usage_and_peak_flow_on_influx_match_the_readings(fleet_env):
    """InfluxDB answers peak flow with derivative() inside the database; same numbers as the oracle."""
    env = fleet_env
    bounds = list(range(T0_S, T0_S + DAYS * 86400 + 1, 86400))
    params = {"start": iso(bounds[0]), "stop": iso(bounds[-1]), "every": "1d"}
    for meter in env.readings:
        body = env.client.get(f"/v1/meters/{meter}/usage", headers=env.utility, params=params).json()
        want, resets = used_per_interval(env.readings[meter], bounds)
        assert [round(i["used_l"] * 1000) for i in body["intervals"]] == want
        assert body["resets"] == resets
        assert [i["peak_flow_lpm"] for i in body["intervals"]] == pytest.approx(
            [peak_lpm({meter: env.readings[meter]}, x, y) for x, y in zip(bounds, bounds[1:], strict=False)]
        )
    acct = env.client.get(
        f"/v1/accounts/{env.account_ids['alice']}/usage", headers=env.utility, params=params
    ).json()
    both = {m: env.readings[m] for m in ("m-a1", "m-a2")}
    assert acct["peak_flow_lpm"] == pytest.approx(peak_lpm(both, bounds[0], bounds[-1]))
