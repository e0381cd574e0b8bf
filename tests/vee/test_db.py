"""VEE state persists in any SQLAlchemy database: SQLite and a real PostgreSQL."""

from __future__ import annotations

import secrets

import pytest

from core.readings import Reading
from storage.readings.sqlite import SqliteStore
from storage.sql import StorageError
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.lifecycle import EventKind, LifecycleEvent
from vee.model import EditAction, ReasonCode
from vee.service import VeeService

T0 = 1_767_196_800
H = 3600


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vee.db'}"
    pg = request.getfixturevalue("postgres")
    return pg.create_database(f"vee_{secrets.token_hex(4)}")


def test_edits_review_items_and_events_survive_a_reopen(db_url):
    store = SqliteStore(":memory:")
    rs = [Reading("m", T0 + h * H, 1_000_000 + h * 10_000, h, 0) for h in range(10)]
    rs[5] = Reading("m", T0 + 5 * H, 9_000_000, 5, 0)  # spike
    store.write_readings(rs)
    db = VeeDb(db_url)
    vee = VeeService(store, db, VeeConfig())
    view = vee.view("m", T0, T0 + 9 * H, now_s=T0 + 10 * H)
    assert view.series.consumption(T0, T0 + 9 * H) == 90_000
    vee.view("m", T0, T0 + 9 * H, now_s=T0 + 11 * H)  # a second run raises nothing twice
    items = db.review_items(["m"])
    assert [(i.ts_s, i.rule, i.excluded, i.status) for i in items] == [(T0 + 5 * H, "spike", True, "open")]
    e = vee.edit(
        "m",
        None,
        T0 + 5 * H,
        EditAction.REPLACE,
        ReasonCode.MISREAD,
        "alice",
        1_050_000,
        "wheel misread",
        now_s=T0 + 12 * H,
    )
    assert (e.value_before_ml, e.value_ml, e.operator) == (9_000_000, 1_050_000, "alice")
    e2 = vee.edit(
        "m", None, T0 + 5 * H, EditAction.REPLACE, ReasonCode.FIELD_CHECK, "bob", 1_049_000, now_s=T0 + 13 * H
    )
    assert e2.value_before_ml == 1_050_000  # the value before is the last edited one
    vee.add_event(LifecycleEvent("m", EventKind.MOVE_IN, T0, account="acc-1", operator="alice"))
    with pytest.raises(ValueError, match="without a move-in"):
        vee.add_event(LifecycleEvent("m", EventKind.MOVE_OUT, T0, account="acc-2"))
    db.close()

    again = VeeDb(db_url)
    assert [(x.operator, x.reason.value, x.value_before_ml) for x in again.edits(["m"])] == [
        ("alice", "misread", 9_000_000),
        ("bob", "field_check", 1_050_000),
    ]
    assert [i.status for i in again.review_items(["m"])] == ["resolved"]
    assert [ev.account for ev in again.events("m")] == ["acc-1"]
    s = VeeService(store, again).view("m", T0, T0 + 9 * H, now_s=T0 + 14 * H).series
    assert s.consumption(T0, T0 + 5 * H) == 49_000
    again.close()
    store.close()


def test_bad_database_url_is_a_clear_error():
    with pytest.raises(StorageError, match="unsupported database URL 'nosuchdialect'"):
        VeeDb("nosuchdialect://x")
    with pytest.raises(StorageError, match="cannot create tables in '127.0.0.1:1/none'") as err:
        VeeDb("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(err.value).split(":", 1)[0]
