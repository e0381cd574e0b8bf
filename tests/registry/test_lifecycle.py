"""The meter registry's lifecycle: provisioned → active → decommissioned, each move an event."""

from __future__ import annotations

import secrets

import pytest

from core.errors import Conflict, Invalid, NotFound
from registry import Registry, State
from storage import registry as tables
from storage.sql import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request, tmp_path) -> Registry:
    """The registry on SQLite (one box) and on PostgreSQL (a utility's database)."""
    if request.param == "sqlite":
        return Registry(Database(f"sqlite:///{tmp_path}/wm.db"))
    pg = request.getfixturevalue("postgres")
    return Registry(Database(pg.create_database(f"reg_{secrets.token_hex(4)}")))


def test_lifecycle_moves_and_events(reg):
    assert reg.provision("m-1", "op", activate=False).state == State.PROVISIONED
    assert "m-1" not in reg.active_ids()  # provisioned: not installed, its readings are refused
    assert reg.activate("m-1", "op", "installed at 3 Elm St").state == State.ACTIVE
    assert reg.active_ids() == {"m-1"}
    assert reg.decommission("m-1", "op", "replaced").state == State.DECOMMISSIONED
    assert reg.active_ids() == frozenset()
    kinds = [(e.kind, e.actor, e.detail) for e in reg.events("m-1")]
    assert kinds == [
        ("provisioned", "op", ""),
        ("activated", "op", "installed at 3 Elm St"),
        ("decommissioned", "op", "replaced"),
    ]


def test_decommissioned_is_final_and_ids_are_not_reused(reg):
    reg.provision("m-1", "op")
    reg.decommission("m-1", "op")
    with pytest.raises(Conflict):
        reg.activate("m-1", "op")
    with pytest.raises(Conflict):
        reg.provision("m-1", "op")


def test_asking_twice_is_no_new_event(reg):
    reg.provision("m-1", "op")
    reg.provision("m-1", "op")
    reg.activate("m-1", "op")
    assert [e.kind for e in reg.events("m-1")] == ["provisioned+activated"]


def test_unknown_and_bad_ids(reg):
    with pytest.raises(NotFound):
        reg.activate("m-404", "op")
    with pytest.raises(NotFound):
        reg.get("m-404")
    with pytest.raises(Invalid):
        reg.provision("bad id!", "op")


def test_bulk_provisioning_and_the_version_moves(reg):
    before = tables.version(reg.db)
    assert reg.provision_many([f"b-{i}" for i in range(12_000)], "bench") == 12_000
    assert reg.provision_many(["b-1", "b-new"], "bench") == 1
    after = tables.version(reg.db)
    assert after[0] == before[0] + 12_001 and after[1] > before[1]
    assert len(reg.active_ids()) == 12_001
    reg.decommission("b-1", "op")
    assert tables.version(reg.db)[1] > after[1]  # a state change moves the version too


def test_the_active_set_is_every_active_id_and_only_those(reg):
    """The ingest's snapshot (one joined string from the database, split): empty, one, many, and the ids
    that are not active left out, whatever their length and characters."""
    assert tables.active_meters(reg.db) == frozenset()
    ids = ["a", "B_-9", "x" * 32, *(f"m-{i}" for i in range(3_000))]
    reg.provision_many(ids, "op")
    reg.provision("waiting", "op", activate=False)
    reg.decommission("m-7", "op")
    assert tables.active_meters(reg.db) == frozenset(ids) - {"m-7"}
    assert "waiting" not in tables.active_meters(reg.db) and len(tables.active_meters(reg.db)) == len(ids) - 1


def test_keyset_pages(reg):
    reg.provision_many([f"m-{i:03d}" for i in range(250)], "op")
    reg.decommission("m-005", "op")
    page1 = reg.meters(limit=100)
    page2 = reg.meters(after=page1[-1].meter_id, limit=100)
    assert [m.meter_id for m in page1 + page2] == [f"m-{i:03d}" for i in range(200)]
    assert [m.meter_id for m in reg.meters(State.DECOMMISSIONED)] == ["m-005"]
