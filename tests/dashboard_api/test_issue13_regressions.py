"""Regressions of issue 13's findings, through the interfaces users see (each failed on f5208de).

- Four reset rules: 25 L drawn around a reset gave 0 L or 25 L depending on the route.
- Every photo reading the API stored was excluded by VEE (no confidence stored).
- Backend outages answered 503 with the backend's own message (hand-written conversions).
- OpenAPI showed mangled names for two AccountOut models and two Every enums; VEE's 1d was 86,400 s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.readings import Reading
from tests.dashboard_api.test_photos import add_photo_meter, photo, upload

T0 = 1_741_000_000 - 1_741_000_000 % 3600  # an hour boundary


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def test_25_litres_around_a_reset_are_25_litres_on_every_route(env):
    """100 L → 110 L, register cleared on a new boot, 2 L → 17 L: 10 L before, 15 L after."""
    rows = [
        Reading("m-reset", T0 + 600, 100_000, 1, 1),
        Reading("m-reset", T0 + 1800, 110_000, 2, 1),
        Reading("m-reset", T0 + 2700, 2_000, 0, 2),
        Reading("m-reset", T0 + 4500, 17_000, 1, 2),
    ]
    env.store.write_readings(rows)
    span = {"start": _iso(T0), "stop": _iso(T0 + 2 * 86400), "tz": "UTC"}
    for every in ("1m", "15m", "1h", "1d", "1mo"):
        body = env.client.get(
            "/v1/meters/m-reset/usage", headers=env.utility, params={**span, "every": every}
        )
        assert body.status_code == 200, body.text
        assert (body.json()["total_l"], body.json()["resets"]) == (25.0, 1), every  # was 15 L at 1h-1mo
    top = env.client.get("/v1/fleet/top-consumers", headers=env.utility, params={**span, "limit": 100}).json()
    assert {c["meter_id"]: c["used_l"] for c in top}["m-reset"] == 25.0  # was 0 L (clamped)
    vee = env.client.get("/v1/vee/meters/m-reset/usage", headers=env.utility, params={**span, "every": "1d"})
    assert vee.json()["total_l"] == 25.0


def test_a_stored_photo_reading_is_not_excluded_by_vee(env):
    meter = add_photo_meter(env)
    stored = None
    for seed in range(8):
        body = upload(env, meter, photo(seed)).json()
        if body["status"] == "stored":
            stored = body
            break
    assert stored is not None, "the reader should be sure of one easy photo"
    at = int(datetime.fromisoformat(stored["stored_reading_at"]).timestamp())
    (reading,) = env.store.readings(meter, at - 1, at)
    assert reading.source == "photo" and reading.confidence == pytest.approx(stored["confidence"])
    series = env.client.get(
        f"/v1/vee/meters/{meter}/series",
        headers=env.utility,
        params={"start": _iso(at - 60), "stop": _iso(at + 60)},
    ).json()
    if stored["confidence"] >= 0.8:  # VEE's photo_min_confidence
        assert [f["rule"] for f in series["findings"]] == []
        assert [p["status"] for p in series["validated"]] == ["actual"]  # was excluded: no confidence
    else:
        assert [f["rule"] for f in series["findings"]] == ["photo_low_confidence"]


def test_a_store_outage_is_503_without_the_backends_text(make_env):
    # The app opens its store at startup; a store that fails afterwards is the case that matters.
    env = make_env()
    env.client.app.state.store.close()
    for path, params in (
        ("/v1/meters", {}),
        ("/v1/meters/m-a1/usage", {"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00"}),
        ("/v1/fleet/rejections", {}),
        ("/v1/fleet/top-consumers", {"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00"}),
    ):
        r = env.client.get(path, headers=env.utility, params=params)
        assert r.status_code == 503, (path, r.text)
        assert r.json() == {"detail": "store unavailable"}  # was "store unavailable: <sqlite's words>"
        assert r.headers["retry-after"] == "5"


def test_openapi_names_each_model_once_and_one_every(env):
    doc = env.client.app.openapi()
    names = set(doc["components"]["schemas"])
    assert not [n for n in names if "__" in n]  # was billing__api__AccountOut, vee__api__Every, ...
    assert {"AccountOut", "AccountSummaryOut", "Every"} <= names
    assert doc["components"]["schemas"]["Every"]["enum"] == ["1m", "15m", "1h", "1d", "1mo"]


def test_vee_days_are_local_days_across_dst(env):
    """VEE's 1d was 86,400 s; the usage API's a calendar day. Now both are local days (23 h here)."""
    rows = [
        Reading("m-dst", t, 1_000 * k, k, 1) for k, t in enumerate(range(1_741_420_800, 1_741_600_800, 3600))
    ]
    env.store.write_readings(rows)
    params = {
        "start": "2025-03-08T00:00:00",
        "stop": "2025-03-11T00:00:00",
        "tz": "America/New_York",
        "every": "1d",
    }
    vee = env.client.get("/v1/vee/meters/m-dst/usage", headers=env.utility, params=params).json()
    api = env.client.get("/v1/meters/m-dst/usage", headers=env.utility, params=params).json()
    ends = [i["end"] for i in vee["intervals"]]
    assert ends == [i["end"] for i in api["intervals"]]
    assert ends[1] == "2025-03-10T00:00:00-04:00"  # the 23-hour day ends at local midnight
    assert [i["used_l"] for i in vee["intervals"]] == [i["used_l"] for i in api["intervals"]]
