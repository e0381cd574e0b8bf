"""Every route refuses the wrong caller: no token 401, residents on operator routes 403, others' data 404."""

from __future__ import annotations

import pytest

from tests.dashboard_api.conftest import T0_S

RANGE = {"start": "2025-03-01T00:00:00", "stop": "2025-03-01T06:00:00"}
# (method, path template, query, json) for each route this package serves; {acct} = alice's account.
UTILITY_ONLY = [
    ("GET", "/v1/meters", {}, None),
    ("GET", "/v1/groups/usage", {**RANGE, "district": "north"}, None),
    ("GET", "/v1/groups/usage.csv", {**RANGE, "district": "north"}, None),
    ("GET", "/v1/fleet/top-consumers", RANGE, None),
    ("GET", "/v1/fleet/silent", {"hours": 1}, None),
    ("GET", "/v1/fleet/alerts", {}, None),
    ("GET", "/v1/fleet/rejections", {}, None),
]
# Routes residents may call, for their own meters/accounts only: bob asking for alice's data gets 404.
OWN_ONLY = [
    ("GET", "/v1/meters/m-a1/usage", RANGE, None),
    ("GET", "/v1/meters/m-a1/usage.csv", RANGE, None),
    ("GET", "/v1/accounts/{acct}/usage", RANGE, None),
    ("GET", "/v1/accounts/{acct}/usage.csv", RANGE, None),
    ("POST", "/v1/meters/m-a1/photos", {}, None),
    ("GET", "/v1/photos/{photo}", {}, None),
    ("POST", "/v1/photos/{photo}/confirm", {}, {"value_m3": 1.0}),
]
ANY_CALLER = [("GET", "/v1/me", {}, None)]
PUBLIC = {"/healthz", "/"}


def _call(env, method, path, query, body, headers, photo_id="AAAAAAAAAAAAAAAA"):
    path = path.format(acct=env.account_ids["alice"], photo=photo_id)
    if method == "POST" and path.endswith("/photos"):
        return env.client.post(
            path, headers=headers, files={"photo": ("m.png", b"\x89PNG not really", "image/png")}
        )
    return env.client.request(method, path, params=query, json=body, headers=headers)


def test_every_route_is_in_the_tables(env):
    """A new route fails here until it has a wrong-role test."""
    covered = {p for _m, p, _q, _b in UTILITY_ONLY + OWN_ONLY + ANY_CALLER}
    from dashboard_api.routes import accounts, alerts, autopay, console, notifications, payments, resident
    from dashboard_api.routes.vee import router as vee_router

    # the accounts database's routes have their role tests in tests/billing/test_api.py, the apps'
    # (autopay, console, notifications, resident, payment orders) in tests/apps/test_api.py
    apps = (autopay, console, notifications, resident)
    billing_paths = {r.path for m in (accounts, alerts, payments, *apps) for r in m.router.routes}
    vee_paths = {r.path for r in vee_router.routes}  # tested below: operators only
    ours = set(env.client.app.openapi()["paths"]) - billing_paths - vee_paths
    normalise = {
        "/v1/accounts/{account_id}/usage": "/v1/accounts/{acct}/usage",
        "/v1/accounts/{account_id}/usage.csv": "/v1/accounts/{acct}/usage.csv",
        "/v1/meters/{meter_id}/usage": "/v1/meters/m-a1/usage",
        "/v1/meters/{meter_id}/usage.csv": "/v1/meters/m-a1/usage.csv",
        "/v1/meters/{meter_id}/photos": "/v1/meters/m-a1/photos",
        "/v1/photos/{photo_id}": "/v1/photos/{photo}",
        "/v1/photos/{photo_id}/confirm": "/v1/photos/{photo}/confirm",
    }
    assert {normalise.get(p, p) for p in ours} - PUBLIC == covered


@pytest.mark.parametrize(("method", "path", "query", "body"), UTILITY_ONLY + OWN_ONLY + ANY_CALLER)
def test_no_or_bad_token_is_401(env, method, path, query, body):
    for headers in ({}, {"Authorization": "Bearer not-a-real-token-123456"}, {"Authorization": "Basic eDp5"}):
        resp = _call(env, method, path, query, body, headers)
        assert resp.status_code == 401, (path, headers, resp.text)
        assert resp.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize(("method", "path", "query", "body"), UTILITY_ONLY)
def test_residents_are_refused_operator_routes(env, method, path, query, body):
    assert _call(env, method, path, query, body, env.alice).status_code == 403
    assert _call(env, method, path, query, body, env.utility).status_code == 200


@pytest.mark.parametrize(("method", "path", "query", "body"), OWN_ONLY)
def test_residents_see_only_their_own(env, method, path, query, body):
    photo_id = _alice_photo(env)
    resp = _call(env, method, path, query, body, env.bob, photo_id)
    assert resp.status_code == 404, resp.text  # 404, not 403: ids of others cannot be probed
    own = _call(env, method, path, query, body, env.alice, _alice_photo(env))
    assert own.status_code not in (401, 403, 404), own.text


def _alice_photo(env) -> str:
    """An upload record of alice's meter (written as the upload route writes it)."""
    photos = env.client.app.state.photos
    rec = {
        "photo_id": photos.new_id(),
        "meter_id": "m-a1",
        "sha256": "0" * 64,
        "uploaded_by": "alice",
        "uploaded_role": "resident",
        "uploaded_ts_s": T0_S + 86400,
        "reading": "01000.5",
        "value_m3": 1000.5,
        "confidence": 0.5,
        "needs_review": True,
        "review_reason": "low_confidence",
        "plausible": True,
        "plausibility_reason": None,
        "previous_m3": 1.0,
        "status": "needs_confirmation",
        "stored_ts_s": None,
    }
    photos.save_record(rec)
    return rec["photo_id"]


def test_me_differs_by_role(env):
    alice = env.client.get("/v1/me", headers=env.alice).json()
    assert alice["role"] == "resident" and alice["meters"] == ["m-a1", "m-a2"]
    assert alice["accounts"][0]["balance_yuan"] == "0.00"
    assert [a["kind"] for a in alice["alerts"]] == ["leak"]
    bob = env.client.get("/v1/me", headers=env.bob).json()
    assert bob["meters"] == ["m-b1"] and bob["alerts"] == []
    assert env.client.get("/v1/me", headers=env.utility).json()["role"] == "utility"


def test_utility_may_read_any_account_but_not_a_missing_one(env):
    assert (
        env.client.get(
            f"/v1/accounts/{env.account_ids['bob']}/usage", headers=env.utility, params=RANGE
        ).status_code
        == 200
    )
    assert env.client.get("/v1/accounts/999/usage", headers=env.utility, params=RANGE).status_code == 404


def test_tokens_are_stored_hashed(env):
    from sqlalchemy import select

    from billing.db import ApiToken

    alice_token = env.alice["Authorization"].split()[1]
    with env.db.session() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    assert alice_token not in hashes
    import hashlib

    assert hashlib.sha256(alice_token.encode()).hexdigest() in hashes


def _vee_calls(app) -> list[tuple[str, str]]:
    calls = []
    for path, ops in app.openapi()["paths"].items():
        if path.startswith("/v1/vee/"):
            concrete = path.replace("{meter_id}", "m-a1").replace("{reading_ts}", "1740787200")
            concrete = concrete.replace("{item_id}", "1").replace("{event_id}", "1")
            calls += [(method.upper(), concrete) for method in ops]
    return calls


def test_vee_routes_are_mounted_and_refuse_residents_and_anonymous(env):
    """Editing and reviewing readings is for utility operators only (vee/)."""
    calls = _vee_calls(env.client.app)
    assert len(calls) >= 8, calls
    for method, path in calls:
        anonymous = env.client.request(method, path)
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        as_resident = env.client.request(method, path, headers=env.alice, json={})
        assert as_resident.status_code == 403, (method, path, as_resident.status_code)
