"""The running system's alert path: stored readings → fleet-wide minutes → leak detector → alerts with
their figures → balance warning; new meters analysed over their stored history; restarts; residents'
answers taught to the detector."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select

from bench.households import HouseholdSpec
from bench.leak_scenarios import InjectedLeak, Scenario, scenario_minutes
from billing.accounts import create_account
from billing.alerts import alert_json
from billing.config import BillingSettings
from billing.db import Alert, Database, LeakFeedback, LedgerEntry, OutboxMessage
from billing.leak_alerts import record_feedback
from billing.payments import notify
from core.readings import Reading
from monitor.service import AlertService
from storage.readings.sqlite import SqliteStore

DAY_S = 86400
H = 3600


def _store_minutes(store: SqliteStore, meter: str, t0: int, litres: np.ndarray, phase_s: int = 30) -> int:
    """One reading per minute, `phase_s` into it, totals from the minutes' litres; returns the last ts."""
    total = np.round(np.cumsum(np.nan_to_num(litres)) * 1000).astype(int).tolist()
    rs = [
        Reading(meter, t0 + 60 * k + phase_s, v, k + 1, 1)
        for k, v in enumerate(total)
        if litres[k] == litres[k]
    ]
    store.write_readings(rs)
    return rs[-1].ts_s


def _household(kind, seed, days, leak=None):
    return scenario_minutes(Scenario(HouseholdSpec(kind, seed, days, "Asia/Shanghai"), leak, (), 0.0, 30.0))


def _service(store, db, tmp_path, **kw):
    return AlertService(
        store, db, BillingSettings(mqtt_alerts=False), state_path=tmp_path / "monitor.json", **kw
    )


def _leaks(db):
    with db.session() as s:
        return [
            alert_json(a) for a in s.scalars(select(Alert).where(Alert.kind == "leak").order_by(Alert.id))
        ]


def test_a_meter_new_to_the_monitor_is_analysed_over_its_stored_history(tmp_path):
    """Regression (issue 19): the monitor looked back 2 days for a meter it saw first: with 10 days stored,
    past bursts went unalerted and background leaks were dated days late."""
    store = SqliteStore(str(tmp_path / "readings.db"))
    db = Database(f"sqlite:///{tmp_path / 'billing.db'}")
    db.create_all()
    bursts = [InjectedLeak("burst", d * DAY_S + 14 * H + 20, d * DAY_S + 15 * H, 30 * 60) for d in (2, 5)]
    t0, litres = _household("base", 3, 10)
    for b in bursts:
        _, with_burst = _household("base", 3, 10, b)
        litres = np.where(with_burst > litres, with_burst, litres)
    drip = InjectedLeak("drip", 7 * DAY_S + 13 * H, 10 * DAY_S, 6.0)
    _, with_drip = _household("base", 3, 10, drip)
    litres = litres + (with_drip - _household("base", 3, 10)[1])
    _store_minutes(store, "gz-hist", t0, litres)
    with db.session() as s:
        create_account(s, "guangzhou", "440100000009", meters=[{"meter_id": "gz-hist"}])

    service = _service(store, db, tmp_path, utility="guangzhou")
    service.poll(datetime.fromtimestamp(t0 + 10 * DAY_S, UTC))
    leaks = _leaks(db)
    kinds = [(a["leak"]["leak_kind"], a["state"]) for a in leaks]
    assert kinds == [("burst", "resolved"), ("burst", "resolved"), ("drip", "open")]
    for a, b in zip(leaks[:2], bursts, strict=True):
        # Opened and resolved in data time, with when it started and stopped and what it cost.
        started = datetime.fromisoformat(a["leak"]["started_at"]).timestamp()
        assert abs(started - (t0 + b.start_s)) <= 90
        assert datetime.fromisoformat(a["opened_at"]).timestamp() - (t0 + b.start_s) <= 19 * 60
        stopped = datetime.fromisoformat(a["leak"]["stopped_at"]).timestamp()
        assert abs(stopped - (t0 + b.end_s)) <= 120
        assert abs(float(a["leak"]["volume_l"]) - 30 * (60 - 1 / 3)) <= 60  # 30 L/min, 14:00:20 to 15:00
        assert 0 < float(a["leak"]["cost_yuan"]) < 10 and a["leak"]["per_day_l"] == "0.000"
    drip_alert = leaks[2]["leak"]
    assert abs(datetime.fromisoformat(drip_alert["started_at"]).timestamp() - (t0 + drip.start_s)) <= 10 * 60
    assert float(drip_alert["per_day_l"]) == 144.0 and float(drip_alert["per_day_yuan"]) > 0

    # A restart without its state reads the history again: the same alerts, none twice.
    (tmp_path / "monitor.json").unlink()
    again = _service(store, db, tmp_path, utility="guangzhou")
    again.poll(datetime.fromtimestamp(t0 + 10 * DAY_S + 60, UTC))
    assert [(a["id"], a["state"]) for a in _leaks(db)] == [(a["id"], a["state"]) for a in leaks]


def test_live_minutes_a_late_meter_and_a_meter_no_account_holds(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    db = Database(f"sqlite:///{tmp_path / 'billing.db'}")
    db.create_all()
    t0, quiet = _household("project", 2, 4)
    burst = InjectedLeak("burst", 3 * DAY_S + 10 * H + 40, 3 * DAY_S + 12 * H, 25 * 60)
    _, leaky = _household("project", 2, 4, burst)
    cut = 3 * 1440 + 600  # both meters stored up to 10:00 of day 3
    _store_minutes(store, "nobody-1", t0, leaky[:cut])
    _store_minutes(store, "late-1", t0, quiet[:cut])
    service = _service(store, db, tmp_path, utility="guangzhou")
    service.poll()
    assert service.leaks.cursors["nobody-1"] == t0 + 60 * (cut - 1) + 30
    assert _leaks(db) == []
    # The burst arrives minute by minute through fleet-wide reads; one meter's readings arrive late.
    total = np.round(np.cumsum(leaky) * 1000).astype(int)
    for k in range(cut, cut + 25):
        store.write_readings([Reading("nobody-1", t0 + 60 * k + 30, int(total[k]), k + 1, 1)])
        service.poll()
    [a] = _leaks(db)
    assert a["account_id"] is None and a["leak"]["utility"] is True and a["leak"]["leak_kind"] == "burst"
    assert a["leak"]["cost_yuan"] is not None  # priced with the utility's tariff
    start = t0 + burst.start_s
    assert datetime.fromisoformat(a["opened_at"]).timestamp() - start <= 18 * 60
    late_total = np.round(np.cumsum(quiet) * 1000).astype(int)
    store.write_readings(
        [Reading("late-1", t0 + 60 * k + 30, int(late_total[k]), k + 1, 1) for k in range(cut, cut + 60)]
    )
    service.leaks.reorder_s = 0
    service.leaks._rescanned_at = float("-inf")  # the periodic rescan finds what the window missed
    service.poll()
    assert service.leaks.cursors["late-1"] == t0 + 60 * (cut + 59) + 30


def test_a_residents_that_was_me_is_taught_and_closes_the_alert(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    db = Database(f"sqlite:///{tmp_path / 'billing.db'}")
    db.create_all()
    t0 = 1_772_380_800  # 2026-03-02 00:00 Shanghai
    minutes = np.zeros(3 * 1440)
    minutes[300:330] = 24.0  # 24 L/min for 30 min at 05:00 on day 0: a burst until the resident says
    _store_minutes(store, "gz-1", t0, minutes)
    with db.session() as s:
        create_account(s, "guangzhou", "440100000007", meters=[{"meter_id": "gz-1"}])
    service = _service(store, db, tmp_path)
    service.poll()
    [a] = _leaks(db)
    assert a["leak"]["leak_kind"] == "burst" and a["state"] == "resolved"  # it stopped by itself
    with db.session() as s:
        alert = s.get(Alert, a["id"])
        record_feedback(s, service.delivery, alert, "mine", "alice", datetime.now(UTC))
    assert service.poll()["taught"] == 1
    with db.session() as s:
        assert s.scalar(select(LeakFeedback.applied_at)) is not None
    # The same draw at the same time is now the household's own schedule: no alert.
    more = np.zeros(1440)
    more[300:330] = 24.0
    total0 = int(minutes.sum() * 1000)
    total = (total0 + np.round(np.cumsum(more) * 1000)).astype(int)
    store.write_readings(
        [Reading("gz-1", t0 + 3 * DAY_S + 60 * k + 30, int(total[k]), 5000 + k, 1) for k in range(1440)]
    )
    service.poll()
    assert len(_leaks(db)) == 1


def test_burst_in_stored_readings_raises_leak_alert_and_balance_warning(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    db = Database(f"sqlite:///{tmp_path / 'billing.db'}")
    db.create_all()
    t0, litres = _household(
        "base", 5, 3, InjectedLeak("burst", 2 * DAY_S + 14 * H, 2 * DAY_S + 15 * H, 30 * 60)
    )
    last = _store_minutes(store, "gz-burst", t0, litres)
    with db.session() as s:
        create_account(
            s,
            "guangzhou",
            "440100000009",
            meters=[{"meter_id": "gz-burst", "installed_at": datetime.fromtimestamp(t0, UTC)}],
        )
        notify(s, "wechat", "tx-1", "guangzhou", "440100000009", "30.00", now=datetime.fromtimestamp(t0, UTC))
    service = _service(store, db, tmp_path)
    counts = service.poll(datetime.fromtimestamp(t0 + 3 * DAY_S, UTC))
    assert counts["leak_events"] >= 1
    with db.session() as s:
        alerts = s.scalars(select(Alert)).all()
        kinds = {a.kind for a in alerts}
        leak = [a for a in alerts if a.kind == "leak"]
        assert len(leak) == 1, [(a.kind, a.title) for a in alerts]
        assert leak[0].meter_id == "gz-burst"
        assert "leak_cost" in kinds, kinds
        assert "lost so far" in leak[0].title or "stopped" in leak[0].title
        assert s.scalar(select(OutboxMessage).limit(1)) is None  # no webhooks, no MQTT configured
    assert service.scheduler.failures == 0
    # The leak's evaluation marked the account evaluated; its finished days are charged on the next run,
    # with the litres of VEE's validated series (they read the same database the ledger writes).
    with db.session() as s:
        account_id = s.scalars(select(Alert.account_id)).first()
    service.scheduler.evaluate_account(account_id, datetime.fromtimestamp(t0 + 3 * DAY_S + 60, UTC))
    with db.session() as s:
        charges = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "charge")).all()
        assert sorted({e.day.isoformat() for e in charges}) == ["2026-03-02", "2026-03-03", "2026-03-04"]
        charged_ml = sum(round(e.volume_l * 1000) for e in charges)
    assert charged_ml == store.last_reading("gz-burst", t0 + 3 * DAY_S).total_ml  # every litre, once
    # A restarted service resumes from its saved state: no minute is fed twice, no new alert.
    again = _service(store, db, tmp_path)
    assert again.leaks.cursors == service.leaks.cursors == {"gz-burst": last}
    assert again.poll(datetime.fromtimestamp(t0 + 3 * DAY_S + 60, UTC))["leak_events"] == 0
    with db.session() as s:
        assert len([a for a in s.scalars(select(Alert)).all() if a.kind == "leak"]) == 1
