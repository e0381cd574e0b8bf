"""Forecast backtest error (baseline vs ARIMA) on simulated households, and ledger charging speed.

Households: hardware_sim.household.Household day totals over 2 years, scaled by an annual season
(summer +30 %) and a slow growth per household, so the seasonal baseline has something to find.
Prints each method's mean absolute % error of month totals over the last 6 months (12 cases per
household), which one the backtest chose, and the chosen method's error against the naive
"last 28 days' rate x days in month" forecast measured in the same run (ratio < 1 is better).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import date, timedelta

from billing.forecast import History, backtest, days_in_month, forecast_history, month_start, next_month
from core.tariffs import tariff_for
from hardware_sim.household import DAY_S, Household

HOUSEHOLDS = 10
START = date(2022, 1, 1)
DAYS = 2 * 365 + 75
AS_OF = START + timedelta(days=DAYS)


def household_daily(seed: int) -> dict[date, float]:
    hh = Household(seed=seed)
    growth = random.Random(seed).uniform(-0.1, 0.1)
    out = {}
    for i in range(DAYS):
        d = START + timedelta(days=i)
        season = 1 + 0.3 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365)
        out[d] = hh.litres(i * DAY_S, (i + 1) * DAY_S) * season * (1 + growth * i / 365)
    return out


def naive_mape(h: History, as_of: date) -> float:
    errs = []
    month = month_start(as_of)
    for _ in range(6):
        month = month_start(month - timedelta(days=1))
        actual = sum(h.window(month, next_month(month)))
        for origin in (month, month + timedelta(days=14)):
            rate = h.mean_rate(origin - timedelta(days=28), origin)
            observed = sum(h.window(month, origin))
            pred = observed + rate * (next_month(month) - origin).days
            errs.append(abs(pred - actual) / actual * 100)
    return statistics.fmean(errs)


def main() -> None:
    t0 = time.perf_counter()
    rows = []
    for seed in range(HOUSEHOLDS):
        daily = household_daily(seed)
        h = History(daily)
        bt = backtest(h, AS_OF)
        rows.append(
            (
                bt.mape_pct["baseline"],
                bt.mape_pct["arima"],
                bt.mape_pct[bt.chosen],
                naive_mape(h, AS_OF),
                bt.chosen,
            )
        )
    f = forecast_history(household_daily(0), AS_OF, tariff_for("beijing"))
    print(
        f"forecast backtest, {HOUSEHOLDS} simulated households, 6 months x 2 origins each "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    print(
        f"  MAPE of month totals: baseline {statistics.fmean(r[0] for r in rows):.1f} %, "
        f"arima {statistics.fmean(r[1] for r in rows):.1f} %, "
        f"chosen per household {statistics.fmean(r[2] for r in rows):.1f} %"
    )
    chosen = statistics.fmean(r[2] for r in rows)
    naive = statistics.fmean(r[3] for r in rows)
    print(
        f"  naive 28-day-rate forecast (baseline of this ratio): {naive:.1f} %; "
        f"chosen/naive = {chosen / naive:.2f}"
    )
    print(
        f"  chosen: baseline {sum(r[4] == 'baseline' for r in rows)}, "
        f"arima {sum(r[4] == 'arima' for r in rows)}"
    )
    this = f.months[0]
    print(
        f"  example {this.month}: {float(this.volume_l) / 1000:.2f} m3, {this.cost_yuan} yuan "
        f"({days_in_month(AS_OF)} days, method {f.method})"
    )
    _bench_ledger()


def _bench_ledger() -> None:
    from billing.accounts import create_account
    from billing.db import Database
    from billing.ledger import charge_through

    db = Database("sqlite://")
    db.create_all()
    with db.session() as s:
        a = create_account(s, "beijing", "0000000001", meters=[{"meter_id": f"m{i}"} for i in range(3)])
    t = time.perf_counter()
    with db.session() as s:
        n = len(charge_through(s, a.id, date(2024, 12, 31), lambda m, d: 400.0, first_day=date(2024, 1, 1)))
    dt = time.perf_counter() - t
    t = time.perf_counter()
    with db.session() as s:
        charge_through(s, a.id, date(2024, 12, 31), lambda m, d: 400.0)
        for i in range(366):
            from billing.ledger import charge_day

            charge_day(s, a.id, date(2024, 1, 1) + timedelta(days=i), lambda m, d: 400.0)
    dt2 = time.perf_counter() - t
    print(
        f"ledger (SQLite in memory): {n} meter-day charges in {dt:.2f} s ({n / dt:.0f}/s); "
        f"recharging all of them (idempotent, posts nothing) {dt2:.2f} s, ratio {dt2 / dt:.2f}"
    )
