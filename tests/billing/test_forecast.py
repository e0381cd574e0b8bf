"""Bill forecast: seasonal baseline vs ARIMA chosen by backtest; short and empty histories say so."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.forecast import days_in_month, forecast_history, next_month
from billing.ledger import charge_through
from billing.payments import notify
from core.tariffs import tariff_for
from tests.billing.conftest import SHANGHAI


def synthetic(start: date, days: int, seed: int = 1, growth: float = 0.0) -> dict[date, float]:
    """Daily litres: annual season (summer high), weekends higher, noise, optional slow growth."""
    rng = random.Random(seed)
    out = {}
    for i in range(days):
        d = start + timedelta(days=i)
        season = 1 + 0.3 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365)
        weekend = 1.25 if d.weekday() >= 5 else 1.0
        out[d] = 350 * season * weekend * (1 + growth * i / 365) * rng.uniform(0.85, 1.15)
    return out


def test_two_years_of_history_forecasts_within_15_percent():
    start = date(2022, 1, 1)
    full = synthetic(start, 900)
    as_of = date(2024, 3, 16)
    f = forecast_history(full, as_of, tariff_for("beijing"), "beijing-0123456789")
    assert f.notes == [] and f.method in ("baseline", "arima")
    assert f.backtest.cases == 12
    assert all(v is not None and v < 20 for v in f.backtest.mape_pct.values()), f.backtest
    assert f.backtest.chosen == min(f.backtest.mape_pct, key=f.backtest.mape_pct.get)
    for m in f.months:
        m0 = date.fromisoformat(m.month + "-01")
        truth = sum(v for d, v in full.items() if m0 <= d < next_month(m0))
        assert abs(float(m.volume_l) - truth) / truth < 0.15, (m, truth)
        assert isinstance(m.cost_yuan, Decimal) and m.cost_yuan > 0
    this, nxt = f.months
    assert this.observed_l > 0 and nxt.observed_l == 0
    # Beijing's year started 1 Jan: March starts where Jan+Feb left the tier position.
    jan_feb = sum(v for d, v in full.items() if date(2024, 1, 1) <= d < date(2024, 3, 1))
    assert abs(float(this.tier_position_l) - jan_feb) < 1
    assert nxt.tier_position_l == this.tier_position_l + this.volume_l
    json = f.as_json()
    assert set(json["backtest"]["mape_pct"]) == {"baseline", "arima"}


def test_monthly_tariff_next_month_starts_a_new_period():
    full = synthetic(date(2023, 1, 1), 500)
    f = forecast_history(full, date(2024, 5, 10), tariff_for("guangzhou"))
    assert f.months[0].tier_position_l == 0 and f.months[1].tier_position_l == 0


def test_short_history_says_so_and_still_forecasts():
    full = synthetic(date(2024, 1, 1), 75)
    f = forecast_history(full, date(2024, 3, 16), tariff_for("shanghai"))
    assert any("less than one year" in n for n in f.notes)
    assert f.method in ("baseline", "arima") and len(f.months) == 2
    rate = sum(full[date(2024, 3, 1) + timedelta(days=i)] for i in range(15)) / 15
    assert abs(float(f.months[1].volume_l) - rate * days_in_month(date(2024, 4, 1))) / (rate * 30) < 0.3


def test_no_history():
    f = forecast_history({}, date(2024, 3, 16), tariff_for("shanghai"))
    assert f.months == [] and f.method == "none" and "no consumption history" in f.notes[0]


def test_forecast_route_from_ledger(api, accounts, db):
    sh = accounts["shanghai"]
    daily = synthetic(date(2024, 1, 1), 60, seed=3)
    with db.session() as s:
        notify(s, "alipay", "t", "shanghai", SHANGHAI, "500.00")
        charge_through(s, sh, date(2024, 2, 29), lambda m, d: daily[d])
    api.app.state.billing_clock = lambda: datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert api.bind(api.alice, "shanghai", SHANGHAI).status_code == 201
    r = api.client.get(f"/v1/accounts/{sh}/forecast", headers=api.h(api.alice))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["history_days"] == 60 and "less than one year" in body["notes"][0]
    assert [m["month"] for m in body["months"]] == ["2024-03", "2024-04"]
    feb = sum(v for d, v in daily.items() if d.month == 2)
    assert abs(float(body["months"][0]["volume_l"]) - feb / 29 * 31) / feb < 0.2
    assert Decimal(body["months"][0]["cost_yuan"]) > 0
