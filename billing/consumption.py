"""Daily litres per meter from the readings store (production wiring of the ledger's consumption)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dashboard_api.usage import usage
from ingest.store.base import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


def store_consumption(store: Store, tz: ZoneInfo = SHANGHAI):
    """A callable (meter_id, local day) -> litres, from register totals (exact millilitres)."""

    def daily_litres(meter_id: str, day: date) -> Decimal:
        start = datetime.combine(day, time(0), tz)
        stop = datetime.combine(day + timedelta(days=1), time(0), tz)
        start_s, stop_s = int(start.timestamp()), int(stop.timestamp())
        result = usage(store, meter_id, start_s, stop_s, stop_s - start_s)
        return Decimal(result.total_ml) / 1000

    return daily_litres
