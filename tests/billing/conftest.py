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
from billing.tokens import issue_token, make_token_lookup
from dashboard_api import errors
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.routes import accounts as accounts_routes
from dashboard_api.routes import alerts as alerts_routes
from dashboard_api.routes import payments as payments_routes

BEIJING = "0123456789"
SHANGHAI = "12345678"
GUANGZHOU = "012345678901"


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
        app.state.token_lookup = make_token_lookup(db)
        errors.install(app)
        for module in (accounts_routes, payments_routes, alerts_routes):
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


@pytest.fixture
def api(db) -> Api:
    return Api(db)
