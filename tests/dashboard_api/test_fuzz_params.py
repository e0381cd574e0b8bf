"""Fuzzing of every route's query and path parameters (hypothesis): bad input is a 4xx, never a 5xx.

The parameters come from the OpenAPI document, so a new route is fuzzed without a line here. Values
are the ones that broke the API before (issue 17): huge integers for `offset`/`before_id`/ids, NaN and
Infinity, years 0001-9999, ranges of thousands of years, unknown zones, long and odd text.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.db import Database
from dashboard_api.app import create_app
from tests.dashboard_api.conftest import (
    api_settings,
    bearer,
    document_only_app,
    sample_readings,
    seed_accounts,
)

HUGE_INTS = [2**31, 2**31 - 1, 2**63, 2**64, 10**20, 10**30, -(2**63), -1, 0]
ODD_NUMBERS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "-0", "1e-400", "0x10", ""]
ODD_TIMES = [
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "2262-04-12T00:00:00Z",
    "2025-02-30T00:00:00",
    "2025-03-01",
    "not a time",
    "",
]
ODD_TEXT = ["", "m-a1", "m-b1", "north", "Asia/Shanghai", "Mars/Olympus", "../../etc", "%00", "a" * 500]


def _times() -> st.SearchStrategy[str]:
    near = st.datetimes(min_value=datetime(2025, 2, 25), max_value=datetime(2025, 3, 6)).map(
        lambda t: t.replace(microsecond=0).isoformat()
    )
    anywhere = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda t: t.replace(microsecond=0).isoformat()
    )
    aware = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(lambda t: (t + timedelta(0)).replace(microsecond=0).isoformat())
    return st.one_of(near, anywhere, aware, st.sampled_from(ODD_TIMES))


def value_for(schema: dict) -> st.SearchStrategy:
    """Values of any kind, biased towards what a parameter of this schema must refuse or survive."""
    options = [schema] + schema.get("anyOf", [])
    kinds = {o.get("type") for o in options}
    formats = {o.get("format") for o in options}
    enums = [v for o in options for v in o.get("enum", [])]
    choices: list[st.SearchStrategy] = [st.sampled_from(ODD_TEXT), st.text(max_size=40)]
    if "integer" in kinds:
        choices += [st.integers(-5, 50), st.sampled_from(HUGE_INTS), st.sampled_from(ODD_NUMBERS)]
    if "number" in kinds:
        choices += [st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_NUMBERS)]
    if "date-time" in formats:
        choices += [_times(), _times()]
    if enums:
        choices += [st.sampled_from(enums), st.sampled_from(enums)]
    return st.one_of(choices)


# Values that make a well-formed call, for the parameters not under test.
VALID = {
    "start": "2025-03-01T00:00:00",
    "stop": "2025-03-02T00:00:00",
    "district": "north",
    "account_id": "1",
    "meter_id": "m-a1",
    "photo_id": "A" * 16,
    "alert_id": "1",
    "delegation_id": "1",
    "request_id": "A" * 24,
}


def odd_values(schema: dict) -> list:
    """Every value of the sweep for a parameter of this schema."""
    options = [schema] + schema.get("anyOf", [])
    kinds = {o.get("type") for o in options}
    out: list = list(ODD_TEXT)
    if kinds & {"integer", "number"}:
        out += HUGE_INTS + ODD_NUMBERS + [1.5, -1e300, 1e300]
    if "date-time" in {o.get("format") for o in options}:
        out += ODD_TIMES
    return out


def _call(client, method, path, params, values, headers):
    url, query = path, {}
    for p in params:
        v = values.get(p["name"], VALID.get(p["name"]))
        if v is None:
            continue
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", quote(str(v), safe="") or "x")
        else:
            query[p["name"]] = str(v)
    return client.request(method, url, params=query, headers=headers), url, query


def _operations(app) -> list[tuple[str, str, list[dict]]]:
    doc = app.openapi()
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
            if params and "requestBody" not in op:
                out.append((method.upper(), path, params))
    return out


def _app(tmp):
    db_url = f"sqlite:///{tmp}/wm.db"
    token = secrets.token_urlsafe(24)
    _ids, alice, _bob = seed_accounts(Database(db_url))
    app = create_app(api_settings(tmp, token, db_url=db_url))
    return app, bearer(token), bearer(alice)


OPERATIONS = _operations(document_only_app())


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    app, utility, alice = _app(tmp_path_factory.mktemp("fuzz"))
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    for rows in sample_readings(days=1).values():
        app.state.store.write_readings(rows)
    yield client, utility, alice
    client.__exit__(None, None, None)


IDS = [f"{m} {p}" for m, p, _ in OPERATIONS]


@pytest.mark.parametrize(("method", "path", "params"), OPERATIONS, ids=IDS)
def test_every_odd_value_of_every_parameter_is_a_4xx(live, method, path, params):
    """The sweep: each parameter alone takes each odd value, the others well-formed; as both roles."""
    client, utility, alice = live
    for p in params:
        for v in odd_values(p.get("schema", {})):
            for headers in (utility, alice):
                resp, url, query = _call(client, method, path, params, {p["name"]: v}, headers)
                assert resp.status_code < 500, (method, url, query, resp.status_code, resp.text[:300])


@pytest.mark.parametrize(("method", "path", "params"), OPERATIONS, ids=IDS)
def test_no_parameter_makes_a_server_error(live, method, path, params):
    """Random combinations of odd and ordinary values (hypothesis)."""
    client, utility, alice = live

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.fixed_dictionaries({p["name"]: value_for(p.get("schema", {})) for p in params}), st.booleans())
    def check(values, as_operator):
        resp, url, query = _call(client, method, path, params, values, utility if as_operator else alice)
        assert resp.status_code < 500, (method, url, query, resp.status_code, resp.text[:300])
        if resp.status_code >= 400:
            assert "Traceback" not in resp.text and "sqlite" not in resp.text.lower()

    check()
