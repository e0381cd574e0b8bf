"""schemathesis against the live API (uvicorn): no 500s, every answer matches the OpenAPI document."""

from __future__ import annotations

import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from billing.db import Database
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from devservices.ports import free_port
from storage.config import StorageSettings
from tests.conftest import ServerThread, wait_for
from tests.dashboard_api.conftest import bearer, sample_readings, seed_accounts

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    token = secrets.token_urlsafe(24)
    db_url = f"sqlite:///{tmp}/wm.db"
    _ids, alice, _bob = seed_accounts(Database(db_url))
    app = create_app(
        ApiSettings(
            storage=StorageSettings(readings_url=f"sqlite:///{tmp}/readings.db", sql_url=db_url),
            tokens=token,
            photo_dir=tmp / "photos",
            photo_max_bytes=200_000,
        )
    )
    port = free_port()
    server = ServerThread(app, port)
    server.start()
    wait_for(lambda: server.server.started, timeout_s=15, what="uvicorn start")
    for rows in sample_readings(days=1).values():
        app.state.store.write_readings(rows)
    yield {"url": f"http://127.0.0.1:{port}", "utility": bearer(token), "alice": bearer(alice)}
    server.stop()


# The document is built from the routes alone (no store is opened); calls go to the live server.
# (schemathesis.pytest.from_fixture does not work with pytest 9 here: 'Function' has no '_nodeid'.)
schema = schemathesis.openapi.from_dict(
    create_app(
        ApiSettings(
            tokens="schema-only-token-0000",
            storage=StorageSettings(readings_url="sqlite://", sql_url="sqlite://"),
        )
    ).openapi()
)


@schema.parametrize()
@settings(
    max_examples=6, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema(case, live_api):
    case.call_and_validate(base_url=live_api["url"], headers=live_api["utility"], checks=CHECKS)
    case.call_and_validate(base_url=live_api["url"], headers=live_api["alice"], checks=CHECKS)
