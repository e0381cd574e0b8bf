"""schemathesis against the live API (uvicorn): no 500s, every answer matches the OpenAPI document.

Two kinds of run: every operation alone (stateless), and chains of calls that follow the document's
OpenAPI links (stateful: an account listed, then its ledger, delegations, a grant, its revocation; a
binding request, then its verification; ...), as an operator and as a resident.
"""

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
from devservices.ports import free_port
from tests.conftest import ServerThread, wait_for
from tests.dashboard_api.conftest import (
    api_settings,
    bearer,
    document_only_app,
    reset_data,
    sample_readings,
    seed_accounts,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    token = secrets.token_urlsafe(24)
    db_url = f"sqlite:///{tmp}/wm.db"
    _ids, alice, _bob = seed_accounts(Database(db_url))
    app = create_app(api_settings(tmp, token, db_url=db_url, photo_max_bytes=200_000))
    port = free_port()
    server = ServerThread(app, port)
    server.start()
    wait_for(lambda: server.server.started, timeout_s=15, what="uvicorn start")
    for rows in sample_readings(days=1).values():
        app.state.store.write_readings(rows)
    return server, {
        "url": f"http://127.0.0.1:{port}",
        "utility": bearer(token),
        "alice": bearer(alice),
        "app": app,
    }


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    server, api = _live(tmp_path_factory)
    yield api
    server.stop()


@pytest.fixture
def fresh_api(tmp_path_factory):
    """An API of its own (the stateless run unbinds and revokes at random)."""
    server, api = _live(tmp_path_factory)
    yield api
    server.stop()


# The document is built from the routes alone (no store is opened); calls go to the live server.
# (schemathesis.pytest.from_fixture does not work with pytest 9 here: 'Function' has no '_nodeid'.)
schema = schemathesis.openapi.from_dict(document_only_app().openapi())


@schema.parametrize()
@settings(
    max_examples=6, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema(case, live_api):
    case.call_and_validate(base_url=live_api["url"], headers=live_api["utility"], checks=CHECKS)
    case.call_and_validate(base_url=live_api["url"], headers=live_api["alice"], checks=CHECKS)


@pytest.mark.parametrize("role", ["utility", "alice"])
def test_chains_of_linked_calls_conform(fresh_api, role):
    """Stateful: sequences that follow the OpenAPI links find no 5xx and no answer off the document."""
    assert any(
        "links" in r
        for ops in schema.raw_schema["paths"].values()
        for op in ops.values()
        for r in op.get("responses", {}).values()
    )

    class Chains(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self):
            # Hypothesis replays scenarios (to shrink a failure): each must meet the same server.
            reset_data(fresh_api["app"])

        def get_call_kwargs(self, case):
            return {"base_url": fresh_api["url"], "headers": fresh_api[role]}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Chains.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
