"""The ledger's litres come from VEE's validated series (vee.service.VeeConsumption): exact, reset-proof."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from core.readings import Reading
from core.timezones import zone
from storage.readings.sqlite import SqliteStore
from storage.sql import Database
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.service import VeeConsumption, VeeService

SH = zone("Asia/Shanghai")
NOW = 2_000_000_000


def feed(store: SqliteStore) -> VeeConsumption:
    service = VeeService(store, VeeDb(Database("sqlite://")), VeeConfig(gap_s=86_400, estimate_step_s=3600))
    return VeeConsumption(service, lambda _meter: "Asia/Shanghai", lambda: NOW)


def test_daily_litres_from_register_totals(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    midnight = int(datetime(2024, 3, 2, tzinfo=SH).timestamp())
    # 100.5 L before local midnight, 250.25 L during 2 March (local), readings every 6 h.
    totals = [
        (midnight - 3600, 1_000_000),
        (midnight, 1_100_500),
        (midnight + 6 * 3600, 1_200_000),
        (midnight + 86400, 1_350_750),
        (midnight + 86400 + 3600, 1_360_000),
    ]
    store.write_readings([Reading("m1", t, ml, i, 1) for i, (t, ml) in enumerate(totals)])
    daily = feed(store)
    assert daily("m1", date(2024, 3, 2)) == Decimal("250.25")
    assert daily("m1", date(2024, 3, 3)) == Decimal("9.25")
    assert daily("nobody", date(2024, 3, 2)) == 0


def test_a_register_reset_at_noon_does_not_cost_the_day(tmp_path):
    """Regression (issue 13): billing asked for one step per day, so a 220 L day with a register reset at
    noon was charged 0 L (or 10 L when the day began below the day's last total: f5208de's wiring gives
    exactly these). Now the day is charged 210 L: only the 10 L that flowed between the last reading
    before the reset (12:00) and the first after it (13:00) are unknown, one reading interval."""
    store = SqliteStore(str(tmp_path / "readings.db"))
    midnight = int(datetime(2024, 5, 6, tzinfo=SH).timestamp())
    rows, total, boot = [], 500_000, 1
    for h in range(25):
        if h == 13:  # cleared at 12:30 on a new boot: 5 L flowed 12:00-12:30 (lost), 5 L since
            total, boot = 5_000, 2
        elif 1 <= h <= 12 or 14 <= h <= 22:
            total += 10_000
        rows.append(Reading("m-noon", midnight + h * 3600, total, h, boot))
    store.write_readings(rows)
    used = feed(store)("m-noon", date(2024, 5, 6))
    assert used == Decimal("210.000")  # 220 L drawn: 120 L, 10 L around the reset, 90 L
