"""The registry's HTTP routes: operators only (residents 403, no token 401), errors as 4xx."""

from __future__ import annotations

import pytest

from core.readings import Reading
from tests.dashboard_api.conftest import T0_S


@pytest.fixture
def env(make_env):
    return make_env()


def test_operator_registers_activates_and_decommissions(env):
    c, op = env.client, env.utility
    r = c.post("/v1/registry/meters", json={"meter_id": "m-new", "activate": False}, headers=op)
    assert r.status_code == 201 and r.json()["state"] == "provisioned"
    assert c.post("/v1/registry/meters/m-new/activate", headers=op).json()["state"] == "active"
    r = c.post("/v1/registry/meters/m-new/decommission", json={"detail": "burst casing"}, headers=op)
    assert r.json()["state"] == "decommissioned"
    assert c.post("/v1/registry/meters/m-new/activate", headers=op).status_code == 409
    events = c.get("/v1/registry/meters/m-new/events", headers=op).json()
    assert [e["kind"] for e in events] == ["provisioned", "activated", "decommissioned"]
    assert events[-1]["detail"] == "burst casing" and events[-1]["actor"]
    listed = c.get("/v1/registry/meters", params={"state": "decommissioned"}, headers=op).json()
    assert [m["meter_id"] for m in listed] == ["m-new"]


def test_bad_input_is_4xx(env):
    c, op = env.client, env.utility
    assert c.post("/v1/registry/meters", json={"meter_id": "has space"}, headers=op).status_code == 422
    assert (
        c.post("/v1/registry/meters", json={"meter_id": "m-1", "state": "active"}, headers=op).status_code
        == 422
    )
    assert c.get("/v1/registry/meters/m-404", headers=op).status_code == 404
    assert c.get("/v1/registry/meters/m-404/events", headers=op).status_code == 404
    assert c.post("/v1/registry/meters/m-404/decommission", headers=op).status_code == 404
    assert c.get("/v1/registry/meters", params={"limit": 10**9}, headers=op).status_code == 422
    assert c.get("/v1/registry/meters", params={"state": "zombie"}, headers=op).status_code == 422


CALLS = [
    ("GET", "/v1/registry/meters", None),
    ("POST", "/v1/registry/meters", {"meter_id": "m-x"}),
    ("GET", "/v1/registry/meters/m-a1", None),
    ("GET", "/v1/registry/meters/m-a1/events", None),
    ("POST", "/v1/registry/meters/m-a1/activate", None),
    ("POST", "/v1/registry/meters/m-a1/decommission", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_residents_and_strangers_are_refused(env, method, path, body):
    c = env.client
    assert c.request(method, path, json=body).status_code == 401
    assert (
        c.request(method, path, json=body, headers={"Authorization": "Bearer nope-nope-nope"}).status_code
        == 401
    )
    assert c.request(method, path, json=body, headers=env.alice).status_code == 403
    if path.endswith("m-a1") or "/m-a1/" in path:
        c.post("/v1/registry/meters", json={"meter_id": "m-a1"}, headers=env.utility)
    assert c.request(method, path, json=body, headers=env.utility).status_code in (200, 201)


def test_every_registry_route_is_tested(env):
    from dashboard_api.routes.registry import router

    routes = {(m, r.path) for r in router.routes for m in r.methods}
    normal = {(m, p.replace("m-a1", "{meter_id}")) for m, p, _b in CALLS}
    assert routes == normal


def test_the_fleet_list_shows_registered_meters(env):
    """Issue 17: meters nobody registered were listed; once the registry holds meters, only those are."""
    c, op = env.client, env.utility
    env.store.write_readings([Reading("stranger", T0_S + 60, 1000, 1, 1)])
    assert "stranger" in {m["meter_id"] for m in c.get("/v1/meters", headers=op).json()}  # not migrated yet
    for m in ("m-a1", "m-a2", "m-b1"):
        c.post("/v1/registry/meters", json={"meter_id": m}, headers=op)
    c.post("/v1/registry/meters/m-b1/decommission", headers=op)
    listed = {m["meter_id"] for m in c.get("/v1/meters", headers=op).json()}
    assert listed == {"m-a1", "m-a2", "m-b1"}  # a decommissioned meter keeps its history in the list
