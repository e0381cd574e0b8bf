"""The meter registry's lifecycle: provisioned → active → decommissioned, each move an event."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from sqlalchemy import delete, func, select

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
    assert after > before
    assert len(reg.active_ids()) == 12_001
    reg.decommission("b-1", "op")
    assert tables.version(reg.db) > after  # a state change moves the version too


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


def test_two_writers_at_once_take_two_change_numbers_and_the_check_sees_both(reg):
    """A change still uncommitted when another begins: the second must not take the same number, or the
    ingest's check (the counter) would load the first and never see the second. On PostgreSQL the old
    `max(change) + 1` gave both the same number (the first's row was not yet visible)."""
    inside, release = threading.Event(), threading.Event()

    def first() -> None:
        with reg.db.session() as s:
            reg._move(s, "w-1", State.ACTIVE, "op", "", create=True)
            inside.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    assert inside.wait(10)
    second = threading.Thread(target=lambda: reg.provision("w-2", "op"))
    second.start()
    before = tables.version(reg.db) if reg.db.dialect == "postgresql" else None  # SQLite: locked now
    time.sleep(0.5)  # the second is waiting on the first (PostgreSQL: the counter's row; SQLite: the file)
    release.set()
    t.join(10)
    second.join(10)
    with reg.db.session() as s:
        numbers = dict(s.execute(select(tables.RegistryMeter.meter_id, tables.RegistryMeter.change)).all())
    assert numbers["w-1"] != numbers["w-2"]  # so a check between the two commits sees the second move it
    assert tables.version(reg.db) == max(numbers.values())
    assert before is None or before < min(numbers.values())
    assert reg.active_ids() == {"w-1", "w-2"}


def test_a_registry_from_before_the_counter_starts_it_at_its_highest_change(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/old.db")
    Registry(db).provision_many(["o-1", "o-2"], "op")
    with db.session() as s:  # as a registry made before the counter row existed
        s.execute(delete(tables.RegistryVersion))
    top = tables.version(db)
    Registry(db)  # the next start makes the row from the meters' numbers
    with db.session() as s:
        highest = s.execute(select(func.max(tables.RegistryMeter.change))).scalar()
    assert top == 0 and tables.version(db) == highest > 0
    Registry(db).provision("o-3", "op")
    assert tables.version(db) == highest + 1


def test_a_change_after_the_counter_row_was_lost_starts_it_again(reg):
    """Tables emptied by hand (or a partial restore) while the service runs: the next change makes the
    row again from the meters' highest number instead of failing (an API test found the 503)."""
    reg.provision_many(["l-1", "l-2"], "op")
    with reg.db.session() as s:
        s.execute(delete(tables.RegistryVersion))
        highest = s.execute(select(func.max(tables.RegistryMeter.change))).scalar()
    reg.provision("l-3", "op")
    assert tables.version(reg.db) == highest + 1
    reg.decommission("l-1", "op")
    assert tables.version(reg.db) == highest + 2
