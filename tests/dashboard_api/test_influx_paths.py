"""The fast InfluxDB paths give the Store answers: stored flow, its derivative() fallback, silent meters."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest

from core.readings import Reading
from storage.readings.conn import InfluxConnection
from storage.readings.fleet import silent_meters, silent_meters_influx
from storage.readings.flows import InfluxFlows
from storage.readings.lineproto import MEASUREMENT, ROLLUP_MEASUREMENT, ROLLUP_META
from tests.oracle import peak_lpm, used_per_interval

T0 = 1_740_758_400


def iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def legacy_line(r: Reading) -> str:
    """A reading as written before flow_lpm existed."""
    return (
        f"{MEASUREMENT},meter={r.meter} total_l={r.total_ml // 1000}.{r.total_ml % 1000:03d},"
        f'seq={r.seq}i,boot={r.boot}i,source="device" {r.ts_s}'
    )


def usage(env, meter: str, bounds: list[int]) -> dict:
    params = {"start": iso(bounds[0]), "stop": iso(bounds[-1]), "every": "1h", "tz": "UTC"}
    r = env.client.get(f"/v1/meters/{meter}/usage", headers=env.utility, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("legacy_minutes", [0, 90, 181], ids=["stored", "mixed", "legacy"])
def test_peak_flow_with_stored_legacy_or_mixed_readings(make_env, influx, legacy_minutes):
    url = influx.store_url(f"p_{secrets.token_hex(3)}")
    env = make_env(url)
    rows, total = [], 0
    for k in range(181):
        total += (k * 37) % 900 + (5_000 if k == 150 else 0)
        rows.append(Reading("m-z", T0 + 60 * k, total, k, 1))
    env.store.write_lines([legacy_line(r) for r in rows[:legacy_minutes]])
    env.store.write_readings(rows[legacy_minutes:])
    if legacy_minutes:
        # Readings from before flow_lpm predate the hourly roll-ups too: no backfill, no marker.
        env.store.conn.statements([f'DROP MEASUREMENT "{ROLLUP_META}"'], method="POST")
    bounds = [T0 - 3600, T0, T0 + 3600, T0 + 7200, T0 + 10800]
    body = usage(env, "m-z", bounds)
    assert [round(i["used_l"] * 1000) for i in body["intervals"]] == used_per_interval(rows, bounds)[0]
    assert [i["peak_flow_lpm"] for i in body["intervals"]] == pytest.approx(
        [peak_lpm({"m-z": rows}, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    )
    assert body["peak_flow_lpm"] == pytest.approx(5.0 + (150 * 37) % 900 / 1000)
    ql = InfluxConnection.from_url(url)
    try:
        grid = InfluxFlows(ql).grids(["m-z"], bounds[0], bounds[-1], 3600)[0]
    finally:
        ql.close()
    # Stored flow answers alone; any reading without it sends the report to derivative().
    assert (grid.peaks_lpm is not None) == (legacy_minutes == 0)


def test_silent_meters_on_influx_match_the_store_answer(make_env, influx):
    url = influx.store_url(f"s_{secrets.token_hex(3)}")
    env = make_env(url)
    now = int(time.time())
    env.store.write_readings(
        [
            Reading("m-live", now - 60, 5, 1, 1),
            Reading("m-3h", now - 3 * 3600, 7, 1, 1),  # silent, inside the recent window
            Reading("m-3d", now - 3 * 86400, 9, 1, 1),  # silent, older than the window
            Reading("m-3d", now - 3 * 86400 - 60, 8, 0, 1),
        ]
    )
    ql = InfluxConnection.from_url(url)
    try:
        for hours in (0.5, 2, 48, 24 * 365 * 10):
            fast = silent_meters_influx(ql, now, hours)
            assert fast == silent_meters(env.store, now, hours), hours
        assert [s.meter for s in silent_meters_influx(ql, now, 2)][-2:] == ["m-3d", "m-3h"]
        assert "m-live" not in {s.meter for s in silent_meters_influx(ql, now, 0.5)}
    finally:
        ql.close()


def recorded_queries(env) -> list[str]:
    """Every InfluxQL text the API sends from now on."""
    ql = env.client.app.state.influx
    sent: list[str] = []
    raw = ql.raw

    def spy(q: str, *args):
        sent.append(q)
        return raw(q, *args)

    ql.raw = spy
    return sent


@pytest.mark.parametrize("end", ["closed", "open_last_hour", "open_then_silent"])
@pytest.mark.parametrize(
    ("every", "tz", "rollup"),
    [
        ("1h", "UTC", True),
        ("1h", "Asia/Shanghai", True),
        ("1d", "America/New_York", True),  # the range holds the 2025-03-09 DST change
        ("1mo", "Asia/Shanghai", True),
        ("1h", "Asia/Kolkata", False),  # UTC+5:30: hours not on roll-up hours, raw readings
        ("15m", "UTC", False),
    ],
)
def test_usage_from_hourly_rollups_equals_usage_from_readings(make_env, influx, every, tz, rollup, end):
    url = influx.store_url(f"r_{secrets.token_hex(3)}")
    env = make_env(url)
    rows, total, boot = [], 0, 1
    for k in range(0, 12 * 1440, 7):  # a reading every 7 minutes for 12 days, resets and reverse flow
        if k in (5 * 1440, 5 * 1440 + 700):  # a reset on a new boot; another on the same boot (a swap)
            total, boot = 500, boot + (k == 5 * 1440)
        elif k % 1000 == 3:
            total -= 700  # reverse flow, held
        else:
            total += (k * 131) % 2_300
        rows.append(Reading("m-roll", T0 + 60 * k + 11, total, k, boot))
    for i in range(0, len(rows), 500):
        env.store.write_readings(rows[i : i + 500])
    sent = recorded_queries(env)
    newest_hour = (rows[-1].ts_s - 1) // 3600 * 3600  # its roll-up is not final yet
    stop = {
        "closed": T0 + 11 * 86_400,  # every hour in range is closed
        "open_last_hour": newest_hour + 3600,  # the newest hour is the range's last
        "open_then_silent": newest_hour + 5 * 3600,  # ... or lies inside the range
    }[end]
    start = stop - (10 * 86_400 if every != "15m" else 86_400)
    params = {"start": iso(start), "stop": iso(stop), "every": every, "tz": tz}
    r = env.client.get("/v1/meters/m-roll/usage", headers=env.utility, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    bounds = [int(datetime.fromisoformat(i["start"]).timestamp()) for i in body["intervals"]]
    bounds.append(int(datetime.fromisoformat(body["intervals"][-1]["end"]).timestamp()))
    used, resets = used_per_interval(rows, bounds)
    assert [round(i["used_l"] * 1000) for i in body["intervals"]] == used
    assert body["resets"] == resets
    assert [i["peak_flow_lpm"] for i in body["intervals"]] == pytest.approx(
        [peak_lpm({"m-roll": rows}, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    )
    assert any(ROLLUP_MEASUREMENT in q for q in sent) == rollup
