"""The running system's alert path: stored readings → leak detector → leak alert → balance warning."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from billing.accounts import create_account
from billing.config import BillingSettings
from billing.db import Alert, Database, LedgerEntry, OutboxMessage
from billing.payments import notify
from core.readings import Reading
from hardware_sim.household import Household, Leak
from monitor.service import AlertService
from storage.readings.sqlite import SqliteStore

DAY_S = 86400


def _store_household(store: SqliteStore, meter: str, house: Household, t0: int, minutes: int) -> None:
    total_ml = 0
    readings = [Reading(meter, t0, 0, 0, 1)]
    for k in range(minutes):
        total_ml += round(house.litres(k * 60, k * 60 + 60) * 1000)
        readings.append(Reading(meter, t0 + (k + 1) * 60, total_ml, k + 1, 1))
    store.write_readings(readings)


def test_burst_in_stored_readings_raises_leak_alert_and_balance_warning(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    db = Database(f"sqlite:///{tmp_path / 'billing.db'}")
    db.create_all()
    t0 = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) - 8 * 3600  # local midnight, Shanghai
    with db.session() as s:
        create_account(
            s,
            "guangzhou",
            "440100000009",
            meters=[{"meter_id": "gz-burst", "installed_at": datetime.fromtimestamp(t0, UTC)}],
        )
        notify(s, "wechat", "tx-1", "guangzhou", "440100000009", "30.00", now=datetime.fromtimestamp(t0, UTC))
    burst = Leak("burst", 2 * DAY_S + 14 * 3600, 2 * DAY_S + 15 * 3600, 30 * 60)
    _store_household(store, "gz-burst", Household(seed=5, occupants=2, leaks=[burst]), t0, 3 * 1440)

    service = AlertService(
        store,
        db,
        BillingSettings(mqtt_alerts=False),
        state_path=tmp_path / "monitor.json",
    )
    service.leaks.lookback_s = 3 * DAY_S
    counts = service.poll(datetime.fromtimestamp(t0 + 3 * DAY_S, UTC))
    assert counts["leak_events"] >= 1
    with db.session() as s:
        alerts = s.scalars(select(Alert)).all()
        kinds = {a.kind for a in alerts}
        leak = [a for a in alerts if a.kind == "leak"]
        assert len(leak) == 1, [(a.kind, a.title) for a in alerts]
        assert leak[0].meter_id == "gz-burst"
        assert "leak_cost" in kinds, kinds
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

    # A restarted service resumes from its saved cursor: no minute is fed twice, no new alert.
    again = AlertService(
        store,
        db,
        BillingSettings(mqtt_alerts=False),
        state_path=tmp_path / "monitor.json",
    )
    assert again.leaks.cursors == service.leaks.cursors
    assert again.poll(datetime.fromtimestamp(t0 + 3 * DAY_S + 60, UTC))["leak_events"] == 0
    with db.session() as s:
        assert len([a for a in s.scalars(select(Alert)).all() if a.kind == "leak"]) == 1
