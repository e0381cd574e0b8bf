"""Delegation ("family payer") through the API: a holder grants view or pay rights, revocable; rights
are checked by the one authorization function on every route."""

from __future__ import annotations

from billing.db import Resident
from tests.billing.conftest import BEIJING


def _setup(api, db, accounts) -> int:
    """Alice holds the Beijing account; carol exists (she has a token)."""
    assert api.bind(api.alice, "beijing", BEIJING).status_code == 201
    with db.session() as s:
        if s.get(Resident, "carol") is None:
            s.add(Resident(id="carol"))
    return accounts["beijing"]


def _carol(api, db):
    from billing.tokens import issue_token

    with db.session() as s:
        return api.h(issue_token(s, "resident", "carol"))


def test_grant_view_then_pay_then_revoke(api, db, accounts):
    bj = _setup(api, db, accounts)
    carol = _carol(api, db)
    c = api.client
    assert c.get(f"/v1/accounts/{bj}", headers=carol).status_code == 404
    r = c.post(
        f"/v1/accounts/{bj}/delegations",
        headers=api.h(api.alice),
        json={"resident": "carol", "rights": "view"},
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    assert (grant["grantor"], grant["resident"], grant["rights"]) == ("alice", "carol", "view")
    seen = c.get("/v1/accounts", headers=carol).json()
    assert [(a["id"], a["access"]) for a in seen] == [(bj, "view")]
    assert c.get(f"/v1/accounts/{bj}/ledger", headers=carol).status_code == 200
    assert c.get(f"/v1/accounts/{bj}/forecast", headers=carol).status_code == 200
    # View rights do not let carol act as a holder: 403 (she sees it), not 404.
    assert c.patch(f"/v1/accounts/{bj}/binding", headers=carol, json={"name": "x"}).status_code == 403
    assert (
        c.post(
            f"/v1/accounts/{bj}/delegations", headers=carol, json={"resident": "bob", "rights": "view"}
        ).status_code
        == 403
    )
    # Granting again changes the rights; still one delegation.
    again = c.post(
        f"/v1/accounts/{bj}/delegations",
        headers=api.h(api.alice),
        json={"resident": "carol", "rights": "pay"},
    )
    assert again.json()["id"] == grant["id"] and again.json()["rights"] == "pay"
    assert c.get("/v1/accounts", headers=carol).json()[0]["access"] == "pay"
    listed = c.get(f"/v1/accounts/{bj}/delegations", headers=api.h(api.alice)).json()
    assert [d["resident"] for d in listed] == ["carol"]
    assert [d["id"] for d in c.get(f"/v1/accounts/{bj}/delegations", headers=carol).json()] == [grant["id"]]
    assert (
        c.delete(f"/v1/accounts/{bj}/delegations/{grant['id']}", headers=api.h(api.alice)).status_code == 204
    )
    assert c.get(f"/v1/accounts/{bj}", headers=carol).status_code == 404
    assert c.get("/v1/accounts", headers=carol).json() == []
    events = [
        e["event"] for e in c.get("/v1/audit/bindings", headers=api.op, params={"account_id": bj}).json()
    ]
    assert events[:3] == ["revoked", "granted", "granted"]


def test_a_delegate_may_give_it_up_and_strangers_see_nothing(api, db, accounts):
    bj = _setup(api, db, accounts)
    carol = _carol(api, db)
    c = api.client
    d = c.post(
        f"/v1/accounts/{bj}/delegations",
        headers=api.h(api.alice),
        json={"resident": "carol", "rights": "view"},
    ).json()
    # Bob (a stranger) can neither list, revoke nor grant: 404 as for no account.
    assert c.get(f"/v1/accounts/{bj}/delegations", headers=api.h(api.bob)).status_code == 404
    assert c.delete(f"/v1/accounts/{bj}/delegations/{d['id']}", headers=api.h(api.bob)).status_code == 404
    assert (
        c.post(
            f"/v1/accounts/{bj}/delegations",
            headers=api.h(api.bob),
            json={"resident": "bob", "rights": "pay"},
        ).status_code
        == 404
    )
    assert c.delete(f"/v1/accounts/{bj}/delegations/{d['id']}", headers=carol).status_code == 204
    assert c.get(f"/v1/accounts/{bj}", headers=carol).status_code == 404


def test_unbinding_ends_the_holders_grants(api, db, accounts):
    bj = _setup(api, db, accounts)
    carol = _carol(api, db)
    c = api.client
    c.post(
        f"/v1/accounts/{bj}/delegations",
        headers=api.h(api.alice),
        json={"resident": "carol", "rights": "pay"},
    )
    assert c.get(f"/v1/accounts/{bj}", headers=carol).status_code == 200
    assert c.delete(f"/v1/accounts/{bj}/binding", headers=api.h(api.alice)).status_code == 204
    assert c.get(f"/v1/accounts/{bj}", headers=carol).status_code == 404


def test_bad_grants_are_refused(api, db, accounts):
    bj = _setup(api, db, accounts)
    c = api.client
    alice = api.h(api.alice)
    for body, code in (
        ({"resident": "nobody-here", "rights": "view"}, 404),
        ({"resident": "alice", "rights": "view"}, 422),
        ({"resident": "carol", "rights": "hold"}, 422),
        ({"resident": "carol", "rights": "view", "account_id": 1}, 422),
        ({"resident": "", "rights": "view"}, 422),
    ):
        r = c.post(f"/v1/accounts/{bj}/delegations", headers=alice, json=body)
        assert r.status_code == code, (body, r.text)
    # Bob already holds Shanghai; alice cannot grant what she does not hold.
    assert api.bind(api.bob, "shanghai", "12345678").status_code == 201
    r = c.post(
        f"/v1/accounts/{accounts['shanghai']}/delegations",
        headers=alice,
        json={"resident": "carol", "rights": "view"},
    )
    assert r.status_code == 404
    assert c.get(f"/v1/accounts/{bj}/delegations", headers=alice).json() == []


def test_a_delegate_who_verifies_becomes_a_holder(api, db, accounts):
    """Binding with verification supersedes a delegation (one row per resident and account)."""
    bj = _setup(api, db, accounts)
    c = api.client
    c.post(
        f"/v1/accounts/{bj}/delegations", headers=api.h(api.alice), json={"resident": "bob", "rights": "view"}
    )
    assert c.get("/v1/accounts", headers=api.h(api.bob)).json()[0]["access"] == "view"
    assert api.bind(api.bob, "beijing", BEIJING).status_code == 201
    assert [a["access"] for a in c.get("/v1/accounts", headers=api.h(api.bob)).json()] == ["holder"]
    assert c.get(f"/v1/accounts/{bj}/delegations", headers=api.h(api.alice)).json() == []


def test_delegations_count_towards_the_limit_of_15(api, db, accounts):
    c = api.client
    for i in range(15):
        r = c.post(
            "/v1/accounts",
            headers=api.op,
            json={
                "utility": "beijing",
                "account_number": f"{i + 100:010d}",
                "holder_phone": "13800000001",
            },
        )
        assert r.status_code == 201
        assert api.bind(api.bob, "beijing", f"{i + 100:010d}").status_code == 201
    bj = _setup(api, db, accounts)
    r = c.post(
        f"/v1/accounts/{bj}/delegations", headers=api.h(api.alice), json={"resident": "bob", "rights": "view"}
    )
    assert r.status_code == 409 and "15" in r.json()["detail"]
