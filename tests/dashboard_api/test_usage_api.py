"""Usage per meter, account and group at every resolution: exact against the readings themselves."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.dashboard_api.conftest import DAYS, T0_S
from tests.oracle import local_bounds, night_min_ml, peak_lpm, used_per_interval

SH = ZoneInfo("Asia/Shanghai")
START = datetime.fromtimestamp(T0_S, SH)


def iso(t_s: int, zone=UTC) -> str:
    return datetime.fromtimestamp(t_s, zone).isoformat()


def ml(litres: float) -> int:
    return round(litres * 1000)


@pytest.mark.parametrize(("every", "count"), [("1m", 300), ("15m", 96), ("1h", 72), ("1d", 3)])
@pytest.mark.parametrize("meter", ["m-a1", "m-a2", "m-b1"])
def test_meter_usage_is_exact_per_interval(env, meter, every, count):
    bounds = local_bounds(START, count, every)
    resp = env.client.get(
        f"/v1/meters/{meter}/usage",
        headers=env.utility,
        params={"start": iso(bounds[0]), "stop": iso(bounds[-1]), "every": every},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    want, resets = used_per_interval(env.readings[meter], bounds)
    assert [ml(i["used_l"]) for i in body["intervals"]] == want
    assert ml(body["total_l"]) == sum(want)
    assert body["resets"] == resets
    assert body["tz"] == "Asia/Shanghai"  # the default zone
    assert [int(datetime.fromisoformat(i["start"]).timestamp()) for i in body["intervals"]] == bounds[:-1]
    # Peak flow per interval and overall, against consecutive readings.
    peaks = [peak_lpm({meter: env.readings[meter]}, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert [i["peak_flow_lpm"] for i in body["intervals"]] == pytest.approx(peaks)
    assert body["peak_flow_lpm"] == pytest.approx(max(p for p in peaks if p is not None))


def test_reset_is_counted_and_adds_nothing(env):
    body = env.client.get(
        "/v1/meters/m-b1/usage",
        headers=env.utility,
        params={"start": iso(T0_S), "stop": iso(T0_S + DAYS * 86400), "every": "1d"},
    ).json()
    assert body["resets"] == 1


def test_peak_flow_and_night_minimum_show_shower_and_leak(env):
    params = {"start": START.isoformat(), "stop": iso(T0_S + DAYS * 86400), "every": "1d"}
    a1 = env.client.get("/v1/meters/m-a1/usage", headers=env.utility, params=params).json()
    a2 = env.client.get("/v1/meters/m-a2/usage", headers=env.utility, params=params).json()
    assert a1["peak_flow_lpm"] == pytest.approx(9.006)  # the shower: 9,000 + 6 ml in one minute
    assert a1["night_min_l_per_h"] == 0  # nothing at night
    leak = night_min_ml({"m-a2": env.readings["m-a2"]}, SH, T0_S, T0_S + DAYS * 86400)
    assert leak and leak >= 20 * 60
    assert ml(a2["night_min_l_per_h"]) == leak  # the leak never stops
    assert datetime.fromisoformat(a2["night_min_at"]).astimezone(SH).hour in (2, 3, 4)


def test_account_usage_sums_its_meters(env):
    bounds = local_bounds(START, 48, "1h")
    params = {"start": iso(bounds[0]), "stop": iso(bounds[-1]), "every": "1h"}
    body = env.client.get(f"/v1/accounts/{env.account_ids['alice']}/usage", headers=env.alice, params=params)
    assert body.status_code == 200, body.text
    body = body.json()
    assert body["meters"] == ["m-a1", "m-a2"]
    a1, _ = used_per_interval(env.readings["m-a1"], bounds)
    a2, _ = used_per_interval(env.readings["m-a2"], bounds)
    assert [ml(i["used_l"]) for i in body["intervals"]] == [x + y for x, y in zip(a1, a2, strict=True)]
    both = {m: env.readings[m] for m in ("m-a1", "m-a2")}
    assert body["peak_flow_lpm"] == pytest.approx(peak_lpm(both, bounds[0], bounds[-1]))
    assert ml(body["night_min_l_per_h"]) == night_min_ml(both, SH, bounds[0], bounds[-1])


def test_group_usage_by_district_and_building(env):
    params = {"start": iso(T0_S), "stop": iso(T0_S + 86400), "every": "1d", "district": "north"}
    body = env.client.get("/v1/groups/usage", headers=env.utility, params=params).json()
    assert body["meters"] == ["m-a1", "m-a2"]
    want = sum(used_per_interval(env.readings[m], [T0_S, T0_S + 86400])[0][0] for m in ("m-a1", "m-a2"))
    assert ml(body["total_l"]) == want
    one = env.client.get("/v1/groups/usage", headers=env.utility, params={**params, "building": "b2"}).json()
    assert one["meters"] == ["m-a2"]
    assert (
        env.client.get(
            "/v1/groups/usage", headers=env.utility, params={"start": iso(T0_S), "stop": iso(T0_S + 86400)}
        ).status_code
        == 422
    )


def test_csv_matches_json_exactly(env):
    params = {"start": iso(T0_S), "stop": iso(T0_S + 6 * 3600), "every": "15m"}
    body = env.client.get("/v1/meters/m-a1/usage", headers=env.utility, params=params).json()
    resp = env.client.get("/v1/meters/m-a1/usage.csv", headers=env.utility, params=params)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert rows[-1]["interval_start"] == "total"
    assert resp.headers["X-Total-L"] == rows[-1]["used_l"]
    assert ml(float(rows[-1]["used_l"])) == ml(body["total_l"])
    assert [r["used_l"] for r in rows[:-1]] == [
        f"{ml(i['used_l']) // 1000}.{ml(i['used_l']) % 1000:03d}" for i in body["intervals"]
    ]
    assert [datetime.fromisoformat(r["interval_start"]) for r in rows[:-1]] == [
        datetime.fromisoformat(i["start"]) for i in body["intervals"]
    ]
    acc = env.client.get(f"/v1/accounts/{env.account_ids['bob']}/usage.csv", headers=env.bob, params=params)
    assert acc.status_code == 200 and acc.text.startswith("interval_start,")
    grp = env.client.get("/v1/groups/usage.csv", headers=env.utility, params={**params, "district": "south"})
    assert grp.status_code == 200 and grp.text.count("\n") == 24 + 2


def test_time_zone_moves_day_boundaries(env):
    """1d in UTC starts at 00:00 UTC = 08:00 Shanghai; totals follow the readings in that window."""
    params = {"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00", "every": "1d", "tz": "UTC"}
    body = env.client.get("/v1/meters/m-a1/usage", headers=env.utility, params=params).json()
    b0 = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
    assert ml(body["total_l"]) == sum(used_per_interval(env.readings["m-a1"], [b0, b0 + 86400])[0])
    assert datetime.fromisoformat(body["intervals"][0]["start"]).utcoffset().total_seconds() == 0
    # Unaligned start/stop round out to whole buckets.
    odd = env.client.get(
        "/v1/meters/m-a1/usage",
        headers=env.utility,
        params={"start": iso(T0_S + 3725), "stop": iso(T0_S + 7300), "every": "1h"},
    ).json()
    assert [int(datetime.fromisoformat(i["start"]).timestamp()) for i in odd["intervals"]] == [
        T0_S + 3600,
        T0_S + 7200,
    ]


def test_month_buckets_in_a_dst_zone(env):
    """1mo in New York: March holds the DST change, so it is 31 days minus one hour."""
    params = {
        "start": "2025-02-01T00:00:00",
        "stop": "2025-04-01T00:00:00",
        "every": "1mo",
        "tz": "America/New_York",
    }
    body = env.client.get("/v1/meters/m-a1/usage", headers=env.utility, params=params).json()
    starts = [datetime.fromisoformat(i["start"]) for i in body["intervals"]]
    ends = [datetime.fromisoformat(i["end"]) for i in body["intervals"]]
    assert [s.day for s in starts] == [1, 1] and [s.hour for s in starts] == [0, 0]
    assert (ends[1] - starts[1]).total_seconds() == 31 * 86400 - 3600
    b = [int(s.timestamp()) for s in starts] + [int(ends[-1].timestamp())]
    assert [ml(i["used_l"]) for i in body["intervals"]] == used_per_interval(env.readings["m-a1"], b)[0]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2025-03-02T00:00:00", "stop": "2025-03-01T00:00:00"}, "after start"),
        ({"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00", "tz": "Mars/Olympus"}, "time zone"),
        ({"start": "2025-03-01T00:00:00", "stop": "2035-03-02T00:00:00", "every": "1m"}, "intervals"),
        ({"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00", "every": "2h"}, ""),
        ({"start": "yesterday", "stop": "2025-03-02T00:00:00"}, ""),
    ],
)
def test_bad_queries_get_422(env, params, fragment):
    resp = env.client.get("/v1/meters/m-a1/usage", headers=env.utility, params=params)
    assert resp.status_code == 422, resp.text
    assert fragment in resp.text


def test_meter_without_readings_has_zero_use(env):
    body = env.client.get(
        "/v1/meters/m-zz/usage", headers=env.utility, params={"start": iso(T0_S), "stop": iso(T0_S + 3600)}
    ).json()
    assert body["total_l"] == 0 and body["peak_flow_lpm"] is None and body["night_min_l_per_h"] is None


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata"])
def test_usage_bodies_are_exactly_what_pydantic_would_write(env, tz):
    # The routes serialise with orjson (usage_json); the bytes must equal the models' own output.
    from dashboard_api.schemas import AccountUsageOut, GroupUsageOut, UsageOut

    params = {"start": iso(T0_S), "stop": iso(T0_S + 2 * 86400), "every": "1h", "tz": tz}
    for path, model, who, extra in (
        ("/v1/meters/m-a1/usage", UsageOut, env.utility, {}),
        (f"/v1/accounts/{env.account_ids['alice']}/usage", AccountUsageOut, env.alice, {}),
        ("/v1/groups/usage", GroupUsageOut, env.utility, {"district": "north"}),
    ):
        r = env.client.get(path, headers=who, params={**params, **extra})
        assert r.status_code == 200, r.text
        assert r.content == model.model_validate_json(r.content).model_dump_json().encode(), path
        assert r.json()["peak_flow_lpm"] is not None and r.json()["intervals"][0]["start"].endswith(
            "Z" if tz == "UTC" else ("+05:30" if tz == "Asia/Kolkata" else "0")
        )


def test_usage_json_refuses_a_field_the_model_lacks():
    from dashboard_api.routes.common import usage_json
    from dashboard_api.schemas import UsageOut

    with pytest.raises(TypeError, match="no fields"):
        usage_json(UsageOut, meter_id="m", not_a_field=1)
