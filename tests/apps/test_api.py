"""The apps' routes: multi-account payment credited once, automatic payment, notifications, overview,
the console's fleet list and alert workflow; and every new route refuses the wrong caller."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.db import Account, LedgerEntry, Payment
from storage import meter_status
from tests.dashboard_api.conftest import bind_verified


def _bind_second(env) -> int:
    """Alice also binds bob's account (a second account of hers), named and grouped."""
    r = bind_verified(env.client, env.alice, "beijing", "0000000002", name="Mum's flat", group="family")
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _balance(env, account_id: int) -> Decimal:
    with env.db.session() as s:
        return s.get(Account, account_id).balance


def test_one_payment_for_two_accounts_is_credited_once(env):
    a, b = env.account_ids["alice"], _bind_second(env)
    r = env.client.post(
        "/v1/payments/orders",
        headers=env.alice,
        json={"lines": [{"account_id": a, "amount": "30.00"}, {"account_id": b, "amount": "12.50"}]},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and order["total"] == "42.50"
    assert _balance(env, a) == 0 and _balance(env, b) == 0  # nothing before the provider confirms
    for _ in range(2):  # a second "pay" (double tap, retried callback) credits nothing more
        paid = env.client.post(f"/v1/payments/orders/{order['order_id']}/dev-pay", headers=env.alice)
        assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert _balance(env, a) == Decimal("30.00") and _balance(env, b) == Decimal("12.50")
    with env.db.session() as s:
        assert len(list(s.scalars(select(Payment)))) == 2
        assert len(list(s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "topup")))) == 2
    recon = env.client.get("/v1/reconciliation", headers=env.utility).json()
    assert recon["clean"] and recon["matched"] == 2
    # bob cannot see or pay alice's order, nor pay into an account he has not bound
    assert env.client.get(f"/v1/payments/orders/{order['order_id']}", headers=env.bob).status_code == 404
    r = env.client.post(
        "/v1/payments/orders", headers=env.bob, json={"lines": [{"account_id": a, "amount": "1.00"}]}
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    "lines",
    [
        [{"account_id": 1, "amount": "0.00"}],
        [{"account_id": 1, "amount": "-5"}],
        [{"account_id": 1, "amount": "1.001"}],
        [{"account_id": 1, "amount": "5000.01"}],
        [{"account_id": 1, "amount": "1"}, {"account_id": 1, "amount": "2"}],
        [],
    ],
)
def test_bad_orders_are_refused_with_4xx(env, lines):
    lines = [{**ln, "account_id": env.account_ids["alice"]} for ln in lines]
    r = env.client.post("/v1/payments/orders", headers=env.alice, json={"lines": lines})
    assert r.status_code == 422, r.text
    assert _balance(env, env.account_ids["alice"]) == 0


def test_a_confirmation_with_another_amount_or_transaction_is_refused(env):
    from billing.payments import settle_order

    a = env.account_ids["alice"]
    order = env.client.post(
        "/v1/payments/orders", headers=env.alice, json={"lines": [{"account_id": a, "amount": "20.00"}]}
    ).json()
    from core.errors import Conflict

    with env.db.session() as s, pytest.raises(Conflict):
        settle_order(s, "dev", order["order_id"], "txn-1", "19.99")
    with env.db.session() as s:
        assert settle_order(s, "dev", order["order_id"], "txn-1", "20.00")[1] is True
    with env.db.session() as s:
        assert settle_order(s, "dev", order["order_id"], "txn-1", "20.00")[1] is False
    with env.db.session() as s, pytest.raises(Conflict):
        settle_order(s, "dev", order["order_id"], "txn-2", "20.00")
    assert _balance(env, a) == Decimal("20.00")


def test_autopay_tops_up_below_the_level_within_the_cap(env):
    from billing import autopay
    from billing.payments import DevProvider

    a = env.account_ids["alice"]
    bad = env.client.put(
        f"/v1/accounts/{a}/autopay",
        headers=env.alice,
        json={"enabled": True, "below_yuan": "20", "amount_yuan": "5", "monthly_cap_yuan": "100"},
    )
    assert bad.status_code == 422 and "10.00 to 2000.00" in bad.json()["detail"]
    r = env.client.put(
        f"/v1/accounts/{a}/autopay",
        headers=env.alice,
        json={"enabled": True, "below_yuan": "20.00", "amount_yuan": "50.00", "monthly_cap_yuan": "120.00"},
    )
    assert r.status_code == 200 and r.json()["paid_by_me"] is True
    provider = DevProvider()
    with env.db.session() as s:
        assert len(autopay.run(s, provider)) == 1  # balance 0 < 20: one top-up of 50
    with env.db.session() as s:
        assert autopay.run(s, provider) == []  # 50 is not below 20
    with env.db.session() as s:
        s.get(Account, a).balance = Decimal("1.00")
    with env.db.session() as s:
        assert len(autopay.run(s, provider)) == 1  # 100 of 120 spent this month
    with env.db.session() as s:
        s.get(Account, a).balance = Decimal("1.00")
    with env.db.session() as s:
        assert autopay.run(s, provider) == []  # a third 50 would pass the cap of 120
    got = env.client.get(f"/v1/accounts/{a}/autopay", headers=env.alice).json()
    assert got["spent_this_month_yuan"] == "100.00"
    assert env.client.get(f"/v1/accounts/{a}/autopay", headers=env.bob).status_code == 404


def test_notifications_follow_alerts_and_payments(env):
    a = env.account_ids["alice"]
    first = env.client.get("/v1/notifications", headers=env.alice).json()
    assert [n["kind"] for n in first["items"]] == ["alert_opened"] and first["unread"] == 1
    assert first["items"][0]["params"]["meter_id"] == "m-a2"
    order = env.client.post(
        "/v1/payments/orders", headers=env.alice, json={"lines": [{"account_id": a, "amount": "8.00"}]}
    ).json()
    env.client.post(f"/v1/payments/orders/{order['order_id']}/dev-pay", headers=env.alice)
    got = env.client.get("/v1/notifications", headers=env.alice).json()
    assert got["unread"] == 2 and got["items"][0]["kind"] == "payment_credited"
    assert got["items"][0]["params"]["amount_yuan"] == "8.00"
    again = env.client.get("/v1/notifications", headers=env.alice).json()
    assert len(again["items"]) == 2  # made once
    assert env.client.post("/v1/notifications/read", headers=env.alice, json={}).json() == {"marked": 2}
    assert env.client.get("/v1/notifications", headers=env.alice).json()["unread"] == 0
    assert env.client.get("/v1/notifications", headers=env.bob).json()["items"] == []


def test_overview_tiers_and_low_balance_level(env):
    a = env.account_ids["alice"]
    o = env.client.get(f"/v1/accounts/{a}/overview", headers=env.alice).json()
    assert o["low_balance_yuan"] == "20" or o["low_balance_yuan"] == "20.00"
    assert o["low_balance_is_default"] and o["below_low_balance"]  # 0 < 20
    assert [t["to_l"] for t in o["tiers"]] == ["180000", "260000", None]  # Beijing: 180 and 260 m3
    assert o["tier_index"] == 0 and o["to_next_tier_l"] == "180000" and o["next_price_yuan_per_m3"] == "7.00"
    assert o["tz"] == "Asia/Shanghai"
    r = env.client.put(f"/v1/accounts/{a}/low-balance", headers=env.alice, json={"low_balance_yuan": "35.50"})
    assert (
        r.status_code == 200
        and r.json()["low_balance_yuan"] == "35.50"
        and not r.json()["low_balance_is_default"]
    )
    assert (
        env.client.put(
            f"/v1/accounts/{a}/low-balance", headers=env.alice, json={"low_balance_yuan": "-1"}
        ).status_code
        == 422
    )
    assert (
        env.client.put(
            f"/v1/accounts/{a}/low-balance", headers=env.bob, json={"low_balance_yuan": "1"}
        ).status_code
        == 404
    )


def test_my_accounts_are_sorted_by_last_payment(env):
    a, b = env.account_ids["alice"], _bind_second(env)
    for account in (a, b):  # b paid last
        order = env.client.post(
            "/v1/payments/orders",
            headers=env.alice,
            json={"lines": [{"account_id": account, "amount": "5.00"}]},
        ).json()
        env.client.post(f"/v1/payments/orders/{order['order_id']}/dev-pay", headers=env.alice)
    cards = env.client.get("/v1/me/accounts", headers=env.alice).json()
    assert [c["id"] for c in cards] == [b, a]
    assert cards[0]["name"] == "Mum's flat" and cards[0]["group"] == "family"
    assert cards[1]["live_alerts"] == 1


def test_fleet_list_searches_filters_and_pages(env):
    with env.db.session() as s:
        meter_status.record(
            s, "m-a1", {"state": "online", "fw": "0.2.0", "rssi_dbm": -81, "battery_pct": 12}, 1_700_000_000
        )
        meter_status.record(
            s, "m-a2", {"v": 1, "state": "online", "fw": "0.1.0", "rssi_dbm": -60}, 1_700_000_000
        )
        meter_status.record(s, "m-a2", {"v": 1, "state": "offline"}, 1_700_000_100)
    get = lambda **q: env.client.get("/v1/fleet/meters", headers=env.utility, params=q).json()  # noqa: E731
    assert get()["total"] == 3 and get()["firmware"] == ["0.1.0", "0.2.0"]
    assert [m["meter_id"] for m in get(q="north")["items"]] == ["m-a1", "m-a2"]
    offline = get(state="offline")["items"]
    assert [m["meter_id"] for m in offline] == ["m-a2"] and offline[0]["fw"] == "0.1.0"  # birth kept
    assert [m["meter_id"] for m in get(rssi_below=-70)["items"]] == ["m-a1"]
    assert [m["meter_id"] for m in get(battery_below=20)["items"]] == ["m-a1"]
    assert [m["meter_id"] for m in get(with_alerts=True)["items"]] == ["m-a2"]
    page = get(limit=2, offset=2)
    assert page["total"] == 3 and [m["meter_id"] for m in page["items"]] == ["m-b1"]
    detail = env.client.get("/v1/fleet/meters/m-a2", headers=env.utility).json()
    assert [s["state"] for s in detail["status"]] == ["offline", "online"] and detail["alerts"][0][
        "kind"
    ] == "leak"
    assert env.client.get("/v1/fleet/meters/m-zz", headers=env.utility).status_code == 404


def test_alert_workflow_and_the_residents_view(env):
    alert_id = env.client.get("/v1/fleet/alerts", headers=env.utility).json()[0]["alert_id"]
    a = env.account_ids["alice"]
    assert (
        env.client.post(
            f"/v1/alerts/{alert_id}/assign", headers=env.utility, json={"assignee": "crew 3"}
        ).status_code
        == 201
    )
    env.client.post(f"/v1/alerts/{alert_id}/notes", headers=env.utility, json={"text": "internal: valve"})
    env.client.post(
        f"/v1/alerts/{alert_id}/notes",
        headers=env.utility,
        json={"text": "A plumber comes Tuesday", "public": True},
    )
    seen = env.client.get(f"/v1/accounts/{a}/alert-progress", headers=env.alice).json()
    assert seen == [
        {
            "alert_id": alert_id,
            "assigned": True,
            "notes": [[seen[0]["notes"][0][0], "A plumber comes Tuesday"]],
        }
    ]
    done = env.client.post(
        f"/v1/alerts/{alert_id}/resolve", headers=env.utility, json={"note": "valve replaced"}
    )
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    again = env.client.post(f"/v1/alerts/{alert_id}/resolve", headers=env.utility, json={})
    assert again.status_code == 409
    steps = [
        x["action"] for x in env.client.get(f"/v1/alerts/{alert_id}/actions", headers=env.utility).json()
    ]
    assert steps == ["assign", "note", "note", "resolve"]


OPERATOR_ONLY = [
    ("GET", "/v1/fleet/meters", None),
    ("GET", "/v1/fleet/meters/m-a1", None),
    ("GET", "/v1/fleet/meters/m-a1/status-history", None),
    ("GET", "/v1/vee/review-items", None),
    ("GET", "/v1/alerts/{alert}/actions", None),
    ("POST", "/v1/alerts/{alert}/notes", {"text": "x"}),
    ("POST", "/v1/alerts/{alert}/assign", {"assignee": "x"}),
    ("POST", "/v1/alerts/{alert}/resolve", {}),
]
RESIDENT_OWN = [
    ("GET", "/v1/accounts/{acct}/overview", None),
    ("PUT", "/v1/accounts/{acct}/low-balance", {"low_balance_yuan": "10.00"}),
    ("GET", "/v1/accounts/{acct}/alert-progress", None),
    ("GET", "/v1/accounts/{acct}/autopay", None),
    (
        "PUT",
        "/v1/accounts/{acct}/autopay",
        {"enabled": True, "below_yuan": "1", "amount_yuan": "10", "monthly_cap_yuan": "10"},
    ),
    ("POST", "/v1/payments/orders", {"lines": [{"account_id": "{acct}", "amount": "1.00"}]}),
    ("GET", "/v1/payments/orders/{order}", None),
    ("POST", "/v1/payments/orders/{order}/dev-pay", None),
    ("POST", "/v1/payments/orders/{order}/cancel", None),
]
RESIDENT_ONLY = [
    ("GET", "/v1/me/accounts", None),
    ("GET", "/v1/notifications", None),
    ("POST", "/v1/notifications/read", {}),
]


def _fill(env, path, body, order_id="po_AAAAAAAAAAAA"):
    alert = env.client.get("/v1/fleet/alerts", headers=env.utility).json()[0]["alert_id"]
    fill = {"acct": str(env.account_ids["alice"]), "alert": str(alert), "order": order_id}
    path = path.format(**fill)
    if body and "lines" in body:
        body = {"lines": [{"account_id": env.account_ids["alice"], "amount": "1.00"}]}
    return path, body


def _alice_order(env) -> str:
    r = env.client.post(
        "/v1/payments/orders",
        headers=env.alice,
        json={"lines": [{"account_id": env.account_ids["alice"], "amount": "1.00"}]},
    )
    return r.json()["order_id"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY + RESIDENT_OWN + RESIDENT_ONLY)
def test_new_routes_need_a_token(env, method, path, body):
    path, body = _fill(env, path, body)
    assert env.client.request(method, path, json=body).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY)
def test_console_routes_refuse_residents(env, method, path, body):
    path, body = _fill(env, path, body)
    assert env.client.request(method, path, json=body, headers=env.alice).status_code == 403
    assert env.client.request(method, path, json=body, headers=env.utility).status_code in (200, 201)


@pytest.mark.parametrize(("method", "path", "body"), RESIDENT_OWN)
def test_others_accounts_and_orders_are_404(env, method, path, body):
    path, body = _fill(env, path, body, _alice_order(env))
    assert env.client.request(method, path, json=body, headers=env.bob).status_code == 404
    path2, body2 = _fill(env, path, body, _alice_order(env)) if "{" in path else (path, body)
    assert env.client.request(method, path2, json=body2, headers=env.alice).status_code in (200, 201)


@pytest.mark.parametrize(("method", "path", "body"), RESIDENT_ONLY)
def test_resident_routes_refuse_operators(env, method, path, body):
    assert env.client.request(method, path, json=body, headers=env.utility).status_code == 403
    assert env.client.request(method, path, json=body, headers=env.alice).status_code == 200


def test_the_new_routes_are_all_covered(env):
    from dashboard_api.routes import autopay, console, notifications, payments, resident

    ours = {r.path for m in (autopay, console, notifications, resident) for r in m.router.routes}
    ours |= {r.path for r in payments.router.routes if "/orders" in r.path}
    covered = {p for _m, p, _b in OPERATOR_ONLY + RESIDENT_OWN + RESIDENT_ONLY}
    rename = {
        "{account_id}": "{acct}",
        "{alert_id}": "{alert}",
        "{order_id}": "{order}",
        "{meter_id}": "m-a1",
    }
    for a, b in rename.items():
        ours = {p.replace(a, b) for p in ours}
    assert ours == covered


def test_a_guided_window_goes_to_the_reader_and_a_bad_one_is_422(env, monkeypatch):
    from dashboard_api.routes import photos

    seen = []
    real = photos.read_photo

    def spy(data, **kw):
        seen.append(kw.get("window"))
        return real(data, **kw)

    monkeypatch.setattr(photos, "read_photo", spy)
    png = b"\x89PNG not really"
    for window, status in (("0.1,0.3,0.9,0.7", 415), ("0.9,0.3,0.1,0.7", 422), ("a,b,c,d", 422)):
        r = env.client.post(
            "/v1/meters/m-a1/photos",
            headers=env.alice,
            files={"photo": ("m.png", png, "image/png")},
            data={"window": window},
        )
        assert r.status_code == status, r.text
    assert seen == [(0.1, 0.3, 0.9, 0.7)]  # the bad windows never reached the reader
