"""Production wiring: daily litres per meter from register totals in the readings store."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.consumption import store_consumption
from ingest.model import Reading
from ingest.store.sqlite import SqliteStore


def test_daily_litres_from_register_totals(tmp_path):
    store = SqliteStore(str(tmp_path / "readings.db"))
    tz = ZoneInfo("Asia/Shanghai")
    midnight = int(datetime(2024, 3, 2, tzinfo=tz).timestamp())
    # 100.5 L before local midnight, 250.25 L during 2 March (local), readings every 6 h.
    totals = [(midnight - 3600, 1_000_000), (midnight, 1_100_500), (midnight + 6 * 3600, 1_200_000),
              (midnight + 86400, 1_350_750), (midnight + 86400 + 3600, 1_360_000)]
    store.write_readings([Reading("m1", t, ml, i, 1) for i, (t, ml) in enumerate(totals)])
    daily = store_consumption(store, tz)
    assert daily("m1", date(2024, 3, 2)) == Decimal("250.25")
    assert daily("m1", date(2024, 3, 3)) == Decimal("9.25")
    assert daily("nobody", date(2024, 3, 2)) == 0
    store.close()
