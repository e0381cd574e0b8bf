"""The running system's alert path: stored readings → leak detector → leak alert → balance warning."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from billing.accounts import create_account
from billing.config import BillingSettings
from billing.db import Alert, Database, OutboxMessage
from billing.payments import notify
from hardware_sim.household import Household, Leak
from ingest.model import Reading
from ingest.store.sqlite import SqliteStore
from monitor.service import AlertService

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
        BillingSettings(db_url="sqlite://", mqtt_alerts=False),
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

    # A restarted service resumes from its saved cursor: no minute is fed twice, no new alert.
    again = AlertService(
        store,
        db,
        BillingSettings(db_url="sqlite://", mqtt_alerts=False),
        state_path=tmp_path / "monitor.json",
    )
    assert again.leaks.cursors == service.leaks.cursors
    assert again.poll(datetime.fromtimestamp(t0 + 3 * DAY_S + 60, UTC))["leak_events"] == 0
    with db.session() as s:
        assert len([a for a in s.scalars(select(Alert)).all() if a.kind == "leak"]) == 1
