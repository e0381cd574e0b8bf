"""The one authorization function: rights by holding or delegation, 404 for strangers, 403 for too little."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.access import Right, Who, accessible, authorize
from billing.accounts import bind
from billing.db import Alert, Resident
from billing.delegation import grant
from billing.errors import Denied, NotFound
from tests.billing.conftest import BEIJING

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def world(db, accounts):
    """alice holds Beijing (meter bj-1, one alert); carol may view it, dave may pay; eve has nothing."""
    with db.session() as s:
        for r in ("carol", "dave", "eve"):
            s.add(Resident(id=r))
        s.flush()
        bind(s, "alice", "beijing", BEIJING)
        grant(s, "alice", accounts["beijing"], "carol", "view", NOW)
        grant(s, "alice", accounts["beijing"], "dave", "pay", NOW)
        alert = Alert(account_id=accounts["beijing"], meter_id="bj-1", kind="leak", dedupe_key="leak:bj-1")
        s.add(alert)
        s.flush()
        return {"account": accounts["beijing"], "alert": alert.id}


@pytest.mark.parametrize(
    ("resident", "best"),
    [("alice", Right.HOLD), ("dave", Right.PAY), ("carol", Right.VIEW), ("eve", None)],
)
def test_rights_on_every_kind_of_object(db, world, resident, best):
    who = Who(False, resident)
    refs = ({"account_id": world["account"]}, {"meter_id": "bj-1"}, {"alert_id": world["alert"]})
    with db.session() as s:
        for ref in refs:
            for need in Right:
                if best is None:
                    with pytest.raises(NotFound):
                        authorize(s, who, need=need, **ref)
                elif need <= best:
                    assert authorize(s, who, need=need, **ref).id == world["account"]
                else:
                    with pytest.raises(Denied):
                        authorize(s, who, need=need, **ref)


def test_missing_objects_are_not_found_for_everyone(db, world):
    with db.session() as s:
        for who in (Who(True, "operator"), Who(False, "alice")):
            for ref in ({"account_id": 10**6}, {"alert_id": 10**6}):
                with pytest.raises(NotFound):
                    authorize(s, who, **ref)
        with pytest.raises(NotFound):
            authorize(s, Who(False, "alice"), meter_id="no-such-meter")
        # Operators read meters only the readings store knows (no account behind them).
        assert authorize(s, Who(True, "operator"), meter_id="no-such-meter") is None
        assert (
            authorize(s, Who(True, "operator"), alert_id=world["alert"], need=Right.HOLD).id
            == world["account"]
        )


def test_accessible_lists_held_and_delegated_accounts(db, world):
    with db.session() as s:
        assert [(a.account.id, a.right) for a in accessible(s, "carol")] == [(world["account"], Right.VIEW)]
        assert [(a.account.id, a.right) for a in accessible(s, "alice")] == [(world["account"], Right.HOLD)]
        assert accessible(s, "eve") == []
