"""Every route refuses the wrong caller: no token 401, residents on operator routes 403, others' data 404.

The tables list every (method, path) the app serves; `test_every_route_is_in_the_tables` fails when a
new route has no row. Object-level routes (OWN_ONLY) are called by bob on alice's account, meter,
alert, photo and delegation: each must answer 404, the same as for something that does not exist.
"""

from __future__ import annotations

import pytest

from billing.db import Alert, Delegation, Resident
from tests.dashboard_api.conftest import T0_S, save_upload

RANGE = {"start": "2025-03-01T00:00:00", "stop": "2025-03-01T06:00:00"}
PAYMENT = {
    "provider": "alipay",
    "transaction_id": "t-roles",
    "utility": "beijing",
    "account_number": "0000000001",
    "amount": "1.00",
}
# (method, path template, query, json). {acct} alice's account, {photo} an upload of her meter,
# {alert} her leak alert, {deleg} a delegation of her account to carol, {req} a binding request.
UTILITY_ONLY = [
    ("GET", "/v1/meters", {}, None),
    ("GET", "/v1/groups/usage", {**RANGE, "district": "north"}, None),
    ("GET", "/v1/groups/usage.csv", {**RANGE, "district": "north"}, None),
    ("GET", "/v1/fleet/top-consumers", RANGE, None),
    ("GET", "/v1/fleet/silent", {"hours": 1}, None),
    ("GET", "/v1/fleet/alerts", {}, None),
    ("GET", "/v1/fleet/rejections", {}, None),
    ("POST", "/v1/accounts", {}, {"utility": "shanghai", "account_number": "12345678"}),
    ("PATCH", "/v1/accounts/{acct}", {}, {"name": "renamed by the utility"}),
    ("POST", "/v1/accounts/{acct}/corrections", {}, {"amount": "1.00", "reason": "roles"}),
    ("POST", "/v1/payments/notifications", {}, PAYMENT),
    ("GET", "/v1/reconciliation", {}, None),
    ("POST", "/v1/reconciliation", {}, {"provider": "alipay", "lines": []}),
    ("GET", "/v1/audit/bindings", {}, None),
    ("GET", "/v1/photo-reviews", {}, None),
    ("POST", "/v1/photos/{photo}/reject", {}, None),
]
# Residents, on their own objects only: bob asking for alice's gets 404.
OWN_ONLY = [
    ("GET", "/v1/meters/m-a1/usage", RANGE, None),
    ("GET", "/v1/meters/m-a1/usage.csv", RANGE, None),
    ("GET", "/v1/accounts/{acct}/usage", RANGE, None),
    ("GET", "/v1/accounts/{acct}/usage.csv", RANGE, None),
    ("POST", "/v1/meters/m-a1/photos", {}, None),
    ("GET", "/v1/photos/{photo}", {}, None),
    ("GET", "/v1/photos/{photo}/image", {}, None),
    ("POST", "/v1/photos/{photo}/confirm", {}, {"value_m3": 1.0}),
    ("GET", "/v1/accounts/{acct}", {}, None),
    ("GET", "/v1/accounts/{acct}/ledger", {}, None),
    ("GET", "/v1/accounts/{acct}/forecast", {}, None),
    ("GET", "/v1/alerts", {"account_id": "{acct}"}, None),
    ("POST", "/v1/alerts/{alert}/acknowledge", {}, None),
    ("POST", "/v1/alerts/{alert}/feedback", {}, {"verdict": "mine"}),
    ("PATCH", "/v1/accounts/{acct}/binding", {}, {"name": "mine now"}),
    ("DELETE", "/v1/accounts/{acct}/binding", {}, None),
    ("GET", "/v1/accounts/{acct}/delegations", {}, None),
    ("POST", "/v1/accounts/{acct}/delegations", {}, {"resident": "bob", "rights": "pay"}),
    ("DELETE", "/v1/accounts/{acct}/delegations/{deleg}", {}, None),
]
# Residents only (operators bind nothing): 403 for an operator.
RESIDENT_ONLY = [
    ("POST", "/v1/accounts/bindings", {}, {"utility": "beijing", "account_number": "0000000001"}),
    ("POST", "/v1/accounts/bindings/{req}/verify", {}, {"sms_code": "000000"}),
]
ANY_CALLER = [
    ("GET", "/v1/me", {}, None),
    ("GET", "/v1/accounts", {}, None),
    ("GET", "/v1/alerts", {}, None),
]
PUBLIC = {("GET", "/healthz"), ("GET", "/")}
ALL = UTILITY_ONLY + OWN_ONLY + RESIDENT_ONLY + ANY_CALLER


def _fixtures(env) -> dict[str, str]:
    """Alice's upload record, her alert, a delegation of her account to carol; a well-formed request id."""
    photo = save_upload(env, "m-a1", 1000.5, T0_S + 86400, "01000.5", previous_m3=1.0)
    acct = env.account_ids["alice"]
    with env.db.session() as s:
        alert = s.query(Alert).filter_by(account_id=acct).one()
        if s.get(Resident, "carol") is None:
            s.add(Resident(id="carol"))
            s.flush()
        d = Delegation(account_id=acct, grantor_id="alice", grantee_id="carol", rights="view")
        s.add(d)
        s.flush()
        ids = {"alert": str(alert.id), "deleg": str(d.id)}
    return {"acct": str(acct), "photo": photo, "req": "A" * 24, **ids}


def _call(env, method, path, query, body, headers, ids):
    path = path.format(**ids)
    query = {k: v.format(**ids) if isinstance(v, str) else v for k, v in query.items()}
    if method == "POST" and path.endswith("/photos"):
        return env.client.post(
            path, headers=headers, files={"photo": ("m.png", b"\x89PNG not really", "image/png")}
        )
    return env.client.request(method, path, params=query, json=body, headers=headers)


def _template(path: str) -> str:
    """An OpenAPI path in the tables' spelling."""
    for name, value in (
        ("{account_id}", "{acct}"),
        ("{photo_id}", "{photo}"),
        ("{alert_id}", "{alert}"),
        ("{delegation_id}", "{deleg}"),
        ("{request_id}", "{req}"),
        ("/v1/meters/{meter_id}/", "/v1/meters/m-a1/"),
    ):
        path = path.replace(name, value)
    return path


def test_every_route_is_in_the_tables(env):
    """A new route fails here until it has a wrong-role test (VEE's are checked below as a whole)."""
    from dashboard_api.routes import autopay, console, notifications, resident

    # role tests elsewhere: the apps' routes (payment orders included) in tests/apps/test_api.py, the
    # registry's in tests/registry/test_routes.py
    elsewhere = {
        (m, r.path)
        for mod in (autopay, console, notifications, resident)
        for r in mod.router.routes
        for m in r.methods
    }
    served = {
        (method.upper(), _template(path))
        for path, ops in env.client.app.openapi()["paths"].items()
        if not path.startswith(("/v1/vee/", "/v1/registry"))
        for method in ops
        if (method.upper(), path) not in elsewhere and not path.startswith("/v1/payments/orders")
    }
    covered = {(m, p) for m, p, _q, _b in ALL}
    assert served - PUBLIC == covered


@pytest.mark.parametrize(("method", "path", "query", "body"), ALL)
def test_no_or_bad_token_is_401(env, method, path, query, body):
    ids = _fixtures(env)
    for headers in ({}, {"Authorization": "Bearer not-a-real-token-123456"}, {"Authorization": "Basic eDp5"}):
        resp = _call(env, method, path, query, body, headers, ids)
        assert resp.status_code == 401, (path, headers, resp.text)
        assert resp.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize(("method", "path", "query", "body"), UTILITY_ONLY)
def test_residents_are_refused_operator_routes(env, method, path, query, body):
    ids = _fixtures(env)
    assert _call(env, method, path, query, body, env.alice, ids).status_code == 403
    assert _call(env, method, path, query, body, env.utility, ids).status_code in (200, 201)


@pytest.mark.parametrize(("method", "path", "query", "body"), RESIDENT_ONLY)
def test_operators_do_not_bind(env, method, path, query, body):
    assert _call(env, method, path, query, body, env.utility, _fixtures(env)).status_code == 403


@pytest.mark.parametrize(("method", "path", "query", "body"), OWN_ONLY)
def test_residents_see_only_their_own(env, method, path, query, body):
    """Broken object-level authorization, route by route: another resident gets 404, nothing changes."""
    ids = _fixtures(env)
    resp = _call(env, method, path, query, body, env.bob, ids)
    assert resp.status_code == 404, resp.text  # 404, not 403: ids of others cannot be probed
    with env.db.session() as s:  # nothing of alice's changed
        assert s.get(Alert, int(ids["alert"])).state == "open"
        assert s.get(Delegation, int(ids["deleg"])).revoked_at is None
    own = _call(env, method, path, query, body, env.alice, ids)
    assert own.status_code not in (401, 403, 404), own.text


def test_me_differs_by_role(env):
    alice = env.client.get("/v1/me", headers=env.alice).json()
    assert alice["role"] == "resident" and alice["meters"] == ["m-a1", "m-a2"]
    assert alice["accounts"][0]["balance_yuan"] == "0.00"
    assert alice["accounts"][0]["access"] == "holder"
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
    import hashlib

    from sqlalchemy import select

    from billing.db import ApiToken

    alice_token = env.alice["Authorization"].split()[1]
    with env.db.session() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    assert alice_token not in hashes
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
