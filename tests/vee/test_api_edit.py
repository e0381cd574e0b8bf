"""An operator edits a reading through the API: usage, charges, review items and the audit trail follow."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from core.readings import Reading
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings, hash_token
from storage.config import StorageSettings
from storage.readings.sqlite import SqliteStore

T0 = 1_767_196_800  # 2026-01-01T00:00:00+08:00 (Asia/Shanghai)
HOUR = 3600


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


@pytest.fixture
def api(tmp_path):
    path = tmp_path / "raw.db"
    store = SqliteStore(str(path))
    # 48 hourly reads, 10 L per hour; the reading at hour 30 is misread 500 L too high (under the
    # spike threshold), so the next readings look like a register reset and the day's use is inflated.
    readings = [Reading("m-1", T0 + h * HOUR, 1_000_000 + h * 10_000, h, 0) for h in range(49)]
    readings[30] = Reading("m-1", T0 + 30 * HOUR, 1_000_000 + 30 * 10_000 + 500_000, 30, 0)
    store.write_readings(readings)
    store.close()
    operator, resident = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    app = create_app(
        ApiSettings(
            storage=StorageSettings(
                readings_url=f"sqlite:///{path}", sql_url=f"sqlite:///{tmp_path / 'wm.db'}"
            ),
            tokens=operator,
            photo_dir=tmp_path / "photos",
        )
    )
    with TestClient(app) as client:  # create_app mounts vee.api.router and opens vee_db
        # The app resolves resident tokens through billing; this test needs only one resident.
        app.state.token_lookup = lambda h: ("resident", "r-1") if h == hash_token(resident) else None
        client.headers["Authorization"] = f"Bearer {operator}"
        yield client, resident


def test_edit_changes_usage_charges_and_audit(api):
    client, _ = api
    params = {"start": iso(T0), "stop": iso(T0 + 48 * HOUR), "every": "1d"}
    before = client.get("/v1/meters/m-1/usage", params=params)  # dashboard's own usage route is mounted too
    assert before.status_code == 200
    usage0 = client.get("/v1/vee/meters/m-1/usage", params=params).json()
    # Up to the misread 800 L, then a new segment from 1310 L to 1480 L: 970 L, not the true 480 L.
    assert usage0["total_l"] == pytest.approx(970.0)
    det0 = client.get("/v1/vee/meters/m-1/determinants", params={**params, "table": "beijing"}).json()
    assert det0["tier_l"] == [pytest.approx(970.0), 0, 0] and det0["charge_fen"] == 485

    resp = client.post(
        "/v1/vee/meters/m-1/edits",
        json={
            "ts": iso(T0 + 30 * HOUR),
            "action": "replace",
            "total_l": 1_300.0,
            "reason_code": "misread",
            "note": "photo shows 1300 L",
        },
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["total_before_l"] == 1_800.0 and resp.json()["operator"] == "operator"

    usage1 = client.get("/v1/vee/meters/m-1/usage", params=params).json()
    assert usage1["total_l"] == pytest.approx(480.0)  # 48 h × 10 L: the register difference
    assert usage1["edited"] is True
    assert sum(i["used_l"] for i in usage1["intervals"]) == pytest.approx(480.0)
    det1 = client.get("/v1/vee/meters/m-1/determinants", params={**params, "table": "beijing"}).json()
    assert det1["volume_l"] == pytest.approx(480.0) and det1["charge_fen"] == 240 and det1["edited"]

    bad = client.get("/v1/vee/meters/m-1/determinants", params={**params, "table": "atlantis"})
    assert bad.status_code == 422 and "unknown utility" in bad.json()["detail"]

    audit = client.get("/v1/vee/meters/m-1/audit").json()
    assert [(a["action"], a["reason_code"], a["total_before_l"], a["total_l"], a["note"]) for a in audit] == [
        ("replace", "misread", 1_800.0, 1_300.0, "photo shows 1300 L")
    ]
    assert audit[0]["at"] and audit[0]["operator"] == "operator"

    series = client.get("/v1/vee/meters/m-1/series", params=params).json()
    edited = [p for p in series["validated"] if p["status"] == "edited"]
    assert len(edited) == 1 and edited[0]["raw_total_l"] == 1_800.0 and edited[0]["total_l"] == 1_300.0
    assert len(series["raw"]) == 48  # raw readings are unchanged: (start, stop] holds hours 1..48
    assert [r["total_l"] for r in series["raw"] if r["ts"].startswith(iso(T0 + 30 * HOUR)[:19])] == [1_800.0]


def test_review_items_raised_and_resolved_by_confirm(api):
    client, _ = api
    params = {"start": iso(T0), "stop": iso(T0 + 48 * HOUR)}
    client.get("/v1/vee/meters/m-1/series", params=params)
    items = client.get("/v1/vee/meters/m-1/review-items", params={"status": "open"}).json()
    assert {i["rule"] for i in items} == {"negative_step"}  # the readings after the misread fall back
    ts = items[0]["ts"]
    resp = client.post(
        "/v1/vee/meters/m-1/edits", json={"ts": ts, "action": "confirm", "reason_code": "confirmed_correct"}
    )
    assert resp.status_code == 201, resp.text
    resolved = client.get("/v1/vee/meters/m-1/review-items", params={"status": "resolved"}).json()
    assert [i["ts"] for i in resolved] == [ts] and resolved[0]["resolved_by"] == "operator"


def test_bad_edits_are_refused_with_a_reason(api):
    client, resident = api
    url = "/v1/vee/meters/m-1/edits"
    ts = iso(T0 + 30 * HOUR)
    assert client.post(url, json={"ts": ts, "action": "replace", "reason_code": "misread"}).status_code == 422
    assert (
        client.post(
            url, json={"ts": ts, "action": "replace", "total_l": 1, "reason_code": "because"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            url, json={"ts": ts, "action": "replace", "total_l": -1, "reason_code": "misread"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            url, json={"ts": "2026-01-01T05:00:00", "action": "confirm", "reason_code": "misread"}
        ).status_code
        == 422
    )
    missing = client.post(
        url, json={"ts": iso(T0 + 30 * HOUR + 1), "action": "confirm", "reason_code": "other"}
    )
    assert missing.status_code == 404 and "no reading" in missing.json()["detail"]
    as_resident = client.post(
        url,
        json={"ts": ts, "action": "confirm", "reason_code": "other"},
        headers={"Authorization": f"Bearer {resident}"},
    )
    assert as_resident.status_code == 403
    assert client.get("/v1/vee/meters/m-1/audit").json() == []  # nothing was written


def test_exports_and_lifecycle_routes(api):
    client, _ = api
    params = {"start": iso(T0), "stop": iso(T0 + 2 * HOUR)}
    csv_text = client.get("/v1/vee/meters/m-1/export.csv", params=params).text.splitlines()
    assert csv_text[0].startswith("point,meter,ts,ts_s,total_l")
    assert csv_text[1].split(",")[4:6] == ["1010.000", "10.000"]
    ngsi = client.get("/v1/vee/meters/m-1/export.ngsi-ld", params=params)
    assert ngsi.headers["content-type"].startswith("application/ld+json")
    body = ngsi.json()
    assert body["type"] == "WaterConsumptionObserved" and body["id"].endswith(":m-1")
    assert [i["value"] for i in body["waterConsumption"]] == [1010.0, 1020.0]
    assert body["waterConsumption"][0]["unitCode"] == "LTR"
    swap = {
        "kind": "swap",
        "ts": iso(T0 + 48 * HOUR),
        "meter": "m-1",
        "read_l": 1480.0,
        "new_meter": "m-1b",
        "new_read_l": 0.0,
    }
    assert client.post("/v1/vee/meters/m-1/lifecycle", json=swap).status_code == 201
    bad = client.post("/v1/vee/meters/m-1/lifecycle", json={**swap, "ts": iso(T0 + 49 * HOUR)})
    assert bad.status_code == 422 and "m-1b" in bad.json()["detail"]
    assert [e["kind"] for e in client.get("/v1/vee/meters/m-1/lifecycle").json()] == ["swap"]
