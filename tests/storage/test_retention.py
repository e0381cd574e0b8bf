"""Retention and the rejected-readings view (issue 17, item 7): bounded dead letters, filtered views."""

from __future__ import annotations

import time

from core.readings import Rejection
from storage.readings.influx import DEAD_LETTER_RP, InfluxStore

T = time.time() - 3600  # dead letters are stamped when received: within every policy


def _rej(meter: str, reason: str, k: int) -> Rejection:
    return Rejection(f"wm/v1/{meter}/readings", reason, f"case {k}", b"{}", T + k)


def test_retention_policies_are_applied_and_dead_letters_go_to_theirs(influx_store: InfluxStore):
    influx_store.write_rejections([_rej("m-1", "malformed", 0)])  # before the policy: the default one
    influx_store.apply_retention("1095d", "30d")
    rps = influx_store.retention()
    assert rps["autogen"] == "26280h0m0s" and rps[DEAD_LETTER_RP] == "720h0m0s"
    influx_store.write_rejections([_rej("m-1", "schema", 1)])
    got = [(r.reason, r.detail) for r in influx_store.rejections()]
    assert got == [("schema", "case 1"), ("malformed", "case 0")]  # both policies read, newest first
    rows = influx_store.conn.series(f'SELECT count("detail") FROM "{DEAD_LETTER_RP}"."rejected"')
    assert rows[0][2][0][1] == 1
    influx_store.apply_retention("INF", "90d")  # changed later: ALTER, not a second policy
    assert influx_store.retention()[DEAD_LETTER_RP] == "2160h0m0s"


def test_a_flood_does_not_push_other_rejections_out_of_view(influx_store: InfluxStore, sqlite_store_factory):
    """Issue 17: 9,000 flood rejections hid every other one; the view filters by reason and by meter."""
    for store in (influx_store, sqlite_store_factory()):
        store.write_rejections([_rej("flooder", "flood", k) for k in range(2000)])
        store.write_rejections([_rej("m-7", "bad_order", 5000), _rej("m-8", "conflict", 5001)])
        store.write_rejections([_rej("flooder", "flood", 6000 + k) for k in range(200)])
        assert {r.reason for r in store.rejections(limit=100)} == {"flood"}  # the unfiltered view
        assert [r.reason for r in store.rejections(limit=100, reason="conflict")] == ["conflict"]
        assert [r.topic for r in store.rejections(limit=100, meter="m-7")] == ["wm/v1/m-7/readings"]
        assert store.rejections(limit=100, reason="flood", meter="m-7") == []
        assert len(store.rejections(limit=1000, meter="flooder")) == 1000
