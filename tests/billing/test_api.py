"""The accounts API: binding, visibility, balances, payments, corrections, alerts, bad input."""

from __future__ import annotations

from billing.db import Account, LedgerEntry, Payment, ResidentAccount
from tests.billing.conftest import BEIJING, GUANGZHOU, HOLDERS, SHANGHAI


def _counts(db) -> tuple[int, int, int, list[str]]:
    from sqlalchemy import func, select

    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(LedgerEntry)),
            s.scalar(select(func.count()).select_from(Payment)),
            s.scalar(select(func.count()).select_from(ResidentAccount)),
            [str(b) for b in s.scalars(select(Account.balance).order_by(Account.id))],
        )


def test_resident_binds_and_sees_only_own_accounts(api, accounts, db):
    c = api.client
    r = api.bind(api.alice, "beijing", BEIJING, name="home", group="family")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "home" and r.json()["group"] == "family" and r.json()["meters"] == ["bj-1"]
    assert r.json()["access"] == "holder"
    assert api.bind(api.bob, "shanghai", SHANGHAI).status_code == 201
    mine = c.get("/v1/accounts", headers=api.h(api.alice)).json()
    assert [a["account_number"] for a in mine] == [BEIJING]
    assert len(c.get("/v1/accounts", headers=api.op).json()) == 3
    bj, sh = accounts["beijing"], accounts["shanghai"]
    assert c.get(f"/v1/accounts/{bj}", headers=api.h(api.alice)).json()["balance"] == "0.00"
    # Another resident's account looks absent; operator-only routes refuse residents.
    assert c.get(f"/v1/accounts/{sh}", headers=api.h(api.alice)).status_code == 404
    assert c.get(f"/v1/accounts/{sh}/ledger", headers=api.h(api.alice)).status_code == 404
    assert c.get(f"/v1/accounts/{sh}/forecast", headers=api.h(api.alice)).status_code == 404
    assert c.get("/v1/reconciliation", headers=api.h(api.alice)).status_code == 403
    assert (
        c.post(
            f"/v1/accounts/{bj}/corrections",
            headers=api.h(api.alice),
            json={"amount": "100.00", "reason": "x"},
        ).status_code
        == 403
    )
    assert c.get("/v1/accounts").status_code == 401
    assert c.get("/v1/accounts", headers=api.h("not-a-token")).status_code == 401
    # Rename and regroup.
    r = c.patch(f"/v1/accounts/{bj}/binding", headers=api.h(api.alice), json={"name": "flat", "group": None})
    assert r.json()["name"] == "flat" and r.json()["group"] is None
    assert c.delete(f"/v1/accounts/{bj}/binding", headers=api.h(api.alice)).status_code == 204
    assert c.get("/v1/accounts", headers=api.h(api.alice)).json() == []


def test_binding_validates_account_number_per_utility(api, accounts, db):
    c = api.client
    before = _counts(db)
    for utility, bad, digits in (
        ("beijing", "123456789", 10),
        ("shanghai", "123456789", 8),
        ("guangzhou", "01234567890", 12),
        ("beijing", "01234x6789", 10),
    ):
        r = c.post(
            "/v1/accounts/bindings",
            headers=api.h(api.alice),
            json={"utility": utility, "account_number": bad},
        )
        assert r.status_code == 422, r.text
        assert f"exactly {digits} digits" in r.json()["detail"]
    r = c.post(
        "/v1/accounts/bindings", headers=api.h(api.alice), json={"utility": "tianjin", "account_number": "1"}
    )
    assert r.status_code == 422 and "known: beijing, guangzhou, shanghai" in r.json()["detail"]
    assert (
        c.post(
            "/v1/accounts/bindings", headers=api.op, json={"utility": "beijing", "account_number": BEIJING}
        ).status_code
        == 403
    )
    assert _counts(db) == before


def test_at_most_15_bindings(api, db):
    c = api.client
    phone, id_last4 = HOLDERS["guangzhou"]
    for i in range(16):
        r = c.post(
            "/v1/accounts",
            headers=api.op,
            json={
                "utility": "guangzhou",
                "account_number": f"{i:012d}",
                "holder_phone": phone,
                "holder_id_last4": id_last4,
            },
        )
        assert r.status_code == 201, r.text
    for i in range(15):
        r = api.bind(api.alice, "guangzhou", f"{i:012d}", group=f"g{i % 3}")
        assert r.status_code == 201, r.text
    r = api.bind(api.alice, "guangzhou", f"{15:012d}")
    assert r.status_code == 409 and "at most 15" in r.json()["detail"]
    again = api.bind(api.bob, "guangzhou", f"{0:012d}")
    assert again.status_code == 201  # the limit is per resident
    dup = api.bind(api.bob, "guangzhou", f"{0:012d}")
    assert dup.status_code == 409
    assert len(c.get("/v1/accounts", headers=api.h(api.alice)).json()) == 15


def test_accounts_sorted_by_last_activity(api, accounts, db):
    c = api.client
    for utility, number in (("beijing", BEIJING), ("shanghai", SHANGHAI), ("guangzhou", GUANGZHOU)):
        assert api.bind(api.alice, utility, number).status_code == 201
    for i, (utility, number) in enumerate(
        (("shanghai", SHANGHAI), ("guangzhou", GUANGZHOU), ("beijing", BEIJING))
    ):
        r = c.post(
            "/v1/payments/notifications",
            headers=api.op,
            json={
                "provider": "alipay",
                "transaction_id": f"t{i}",
                "utility": utility,
                "account_number": number,
                "amount": "10.00",
            },
        )
        assert r.status_code == 200, r.text
    order = [a["utility"] for a in c.get("/v1/accounts", headers=api.h(api.alice)).json()]
    assert order == ["beijing", "guangzhou", "shanghai"]


def test_payment_credited_exactly_once(api, accounts, db):
    c = api.client
    body = {
        "provider": "wechat",
        "transaction_id": "4200001234",
        "utility": "beijing",
        "account_number": BEIJING,
        "amount": "100.50",
    }
    results = [c.post("/v1/payments/notifications", headers=api.op, json=body) for _ in range(5)]
    assert [r.status_code for r in results] == [200] * 5
    assert [r.json()["credited"] for r in results] == [True, False, False, False, False]
    assert {r.json()["balance"] for r in results} == {"100.50"}
    ledger = c.get(f"/v1/accounts/{accounts['beijing']}/ledger", headers=api.op).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [("topup", "100.50", "100.50")]
    # Same transaction id, different amount: refused, nothing changes.
    r = c.post("/v1/payments/notifications", headers=api.op, json={**body, "amount": "200.00"})
    assert r.status_code == 409
    assert c.get("/v1/reconciliation", headers=api.op).json()["clean"] is True


def test_bad_payment_and_correction_input_changes_nothing(api, accounts, db):
    c = api.client
    base = {"provider": "alipay", "transaction_id": "x1", "utility": "beijing", "account_number": BEIJING}
    before = _counts(db)
    bad = [
        ({**base, "amount": "-5.00"}, 422, "positive"),
        ({**base, "amount": "0"}, 422, "positive"),
        ({**base, "amount": "1.005"}, 422, "2 decimal places"),
        ({**base, "amount": "abc"}, 422, "not a decimal"),
        ({**base, "amount": "NaN"}, 422, "not finite"),
        ({**base, "amount": "1e9"}, 422, "exceeds"),
        ({**base, "amount": 12.5}, 422, "string"),
        ({**base, "amount": "10.00", "account_number": "1234"}, 422, "exactly 10 digits"),
        ({**base, "amount": "10.00", "account_number": "9999999999"}, 404, "no beijing account"),
        ({**base, "amount": "10.00", "status": "refunded"}, 422, ""),
        ({**base, "amount": "10.00", "extra": 1}, 422, ""),
    ]
    for body, code, words in bad:
        r = c.post("/v1/payments/notifications", headers=api.op, json=body)
        assert r.status_code == code, (body, r.text)
        assert words in r.text, (body, r.text)
    bj = accounts["beijing"]
    for body, code in (
        ({"amount": "0", "reason": "x"}, 422),
        ({"amount": "5.00", "reason": ""}, 422),
        ({"amount": "5.001", "reason": "x"}, 422),
    ):
        assert c.post(f"/v1/accounts/{bj}/corrections", headers=api.op, json=body).status_code == code
    assert (
        c.post(
            "/v1/accounts/999999/corrections", headers=api.op, json={"amount": "5.00", "reason": "x"}
        ).status_code
        == 404
    )
    assert c.get("/v1/accounts/0", headers=api.op).status_code == 422
    assert _counts(db) == before


def test_correction_is_idempotent_with_key(api, accounts):
    c = api.client
    bj = accounts["beijing"]
    for _ in range(3):
        r = c.post(
            f"/v1/accounts/{bj}/corrections",
            headers=api.op,
            json={"amount": "-3.25", "reason": "meter misread", "key": "fix-1"},
        )
        assert r.status_code == 201
    assert c.get(f"/v1/accounts/{bj}", headers=api.op).json()["balance"] == "-3.25"


def test_reconciliation_against_statement(api, accounts, db):
    c = api.client
    ok = {"provider": "alipay", "utility": "beijing", "account_number": BEIJING}
    c.post(
        "/v1/payments/notifications", headers=api.op, json={**ok, "transaction_id": "a1", "amount": "50.00"}
    )
    c.post(
        "/v1/payments/notifications", headers=api.op, json={**ok, "transaction_id": "a2", "amount": "30.00"}
    )
    # Provider says it collected a1, and a3 whose notification never arrived (or was refused).
    statement = {
        "provider": "alipay",
        "lines": [
            {**{k: ok[k] for k in ("utility", "account_number")}, "transaction_id": "a1", "amount": "50.00"},
            {**{k: ok[k] for k in ("utility", "account_number")}, "transaction_id": "a3", "amount": "20.00"},
        ],
    }
    report = c.post("/v1/reconciliation", headers=api.op, json=statement).json()
    assert [p["transaction_id"] for p in report["paid_not_credited"]] == ["a3"]
    assert [p["transaction_id"] for p in report["credits_without_payment"]] == ["a2"]
    assert report["clean"] is False
    bad = {**statement, "lines": [{**statement["lines"][0], "amount": "-1"}]}
    assert c.post("/v1/reconciliation", headers=api.op, json=bad).status_code == 422
