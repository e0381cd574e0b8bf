"""Billing fixtures: every database test runs on SQLite and on a real PostgreSQL 15."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from billing.accounts import create_account
from billing.db import Database
from billing.hashing import VerifyKey
from billing.holders import set_contact
from billing.sms import DevSmsSink
from billing.tokens import issue_token, make_token_lookup
from billing.verification import Policy
from dashboard_api import errors
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.routes import accounts as accounts_routes
from dashboard_api.routes import alerts as alerts_routes
from dashboard_api.routes import audit as audit_routes
from dashboard_api.routes import bindings as bindings_routes
from dashboard_api.routes import payments as payments_routes
from tests.conftest import code_in

BEIJING = "0123456789"
SHANGHAI = "12345678"
GUANGZHOU = "012345678901"
# What each utility holds about its holder: the phone on file and the ID card's last 4.
HOLDERS = {
    "beijing": ("13800000001", "1111"),
    "shanghai": ("13800000002", "222X"),
    "guangzhou": ("13800000003", "3333"),
}
VERIFY_KEY = VerifyKey(b"tests-only verification key, 32+ bytes long")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/billing.db"
    else:
        url = request.getfixturevalue("postgres").create_database(f"t_{secrets.token_hex(5)}")
    database = Database(url)
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def accounts(db) -> dict[str, int]:
    """Three accounts, one per shipped utility, each with one meter."""
    ids = {}
    with db.session() as s:
        for utility, number, meter in (
            ("beijing", BEIJING, "bj-1"),
            ("shanghai", SHANGHAI, "sh-1"),
            ("guangzhou", GUANGZHOU, "gz-1"),
        ):
            a = create_account(
                s,
                utility,
                number,
                name=f"{utility} holder",
                meters=[
                    {
                        "meter_id": meter,
                        "district": utility,
                        "building": "b1",
                        "installed_at": datetime(2024, 1, 1, tzinfo=UTC),
                    }
                ],
            )
            phone, id_last4 = HOLDERS[utility]
            set_contact(s, VERIFY_KEY, a.id, phone, id_last4)
            ids[utility] = a.id
    return ids


class Api:
    """A TestClient on an app with the accounts, payments and alerts routes (errors converted once) and
    tokens for one operator and two residents."""

    def __init__(self, db: Database):
        self.operator_token = secrets.token_urlsafe(24)
        app = FastAPI()
        settings = ApiSettings(tokens=self.operator_token)
        app.dependency_overrides[get_settings] = lambda: settings
        app.state.database = db
        app.state.settings = settings
        app.state.token_lookup = make_token_lookup(db)
        app.state.verify_key = VERIFY_KEY
        app.state.sms = self.sms = DevSmsSink()
        app.state.verify_policy = Policy()
        errors.install(app)
        for module in (accounts_routes, bindings_routes, audit_routes, payments_routes, alerts_routes):
            app.include_router(module.router)
        self.app = app
        self.client = TestClient(app)
        with db.session() as s:
            self.alice = issue_token(s, "resident", "alice")
            self.bob = issue_token(s, "resident", "bob")

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def op(self) -> dict[str, str]:
        return self.h(self.operator_token)

    def bind(self, token: str, utility: str, number: str, **names):  # noqa: ANN003, ANN201
        """Bind with the verification the utility asks for, as a holder would; the verify response."""
        r = self.client.post(
            "/v1/accounts/bindings",
            headers=self.h(token),
            json={"utility": utility, "account_number": number},
        )
        assert r.status_code == 202, r.text
        phone, id_last4 = HOLDERS[utility]
        proofs: dict[str, str] = {}
        if "sms" in r.json()["methods"]:
            proofs["sms_code"] = last_code(self.sms, phone)
        if "id_last4" in r.json()["methods"]:
            proofs["id_last4"] = id_last4
        return self.client.post(
            f"/v1/accounts/bindings/{r.json()['request_id']}/verify",
            headers=self.h(token),
            json={**proofs, **names},
        )


def last_code(sms: DevSmsSink, phone: str) -> str:
    """The code in the newest text message to `phone` (what the holder reads on their phone)."""
    texts = sms.messages(to=phone)
    assert texts, f"no text message to {phone}"
    return code_in(texts[-1].text)


@pytest.fixture
def api(db) -> Api:
    return Api(db)
