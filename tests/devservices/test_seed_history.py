"""The demo's history: registers from the household model, hour spans and day litres by the core rule."""

from __future__ import annotations

from datetime import date

import pytest

from core.consumption import fold_marks
from core.tariffs import tariff_for
from core.timezones import day_bounds_s, zone
from devservices.seed.history import ML_PER_PULSE, day_litres, days_between, hour_spans, register
from devservices.seed.plan import UTILITIES, make_plan
from hardware_sim.household import DAY_S, Household, PulseSource
from hardware_sim.year import Year

NOW_S = 1_780_000_000  # 2026-05-28 (fixed: the plan is a function of now)


@pytest.fixture(scope="module")
def plan():
    return make_plan(6, 2, NOW_S, seed=3)


@pytest.fixture(scope="module")
def regs(plan):
    return {h.meter_id: register(h, plan) for h in plan.homes}


def test_plan_spreads_homes_over_the_three_tariffs_with_every_fixture(plan):
    assert [h.utility for h in plan.homes[:3]] == list(UTILITIES)
    for h in plan.homes:
        tariff_for(h.utility).validate_account_number(h.account_number)
    roles = set().union(*(h.roles for h in plan.homes))
    assert {"leak", "low_balance", "pending_photo", "courtyard", "resident", "live_burst"} <= roles
    assert sum("courtyard" in h.roles and len(h.households) >= 2 for h in plan.homes) == 3
    assert plan.now_s % 60 == 0 and plan.origin_s < plan.now_s
    assert make_plan(6, 2, NOW_S, seed=3).homes[4].account_number == plan.homes[4].account_number


def test_register_counts_the_households_water_in_whole_pulses(plan, regs):
    """The numpy integral counts what the simulator's pulse source (the live meters') counts, to a pulse."""
    home = plan.homes[0]
    reg = regs[home.meter_id]
    pulses = PulseSource(home.households[0], ML_PER_PULSE)
    for k in range(1, 2 * 1440):
        pulses.advance((k - 1) * 60, k * 60)
        assert abs(int(reg.totals_ml[k]) - home.initial_ml - pulses.registered_ml) <= ML_PER_PULSE
    assert reg.totals_ml[0] == home.initial_ml
    courtyard = plan.homes[1]  # several households on one meter: their water adds up
    creg = regs[courtyard.meter_id]
    for day in (0, 17, 40):
        t0, t1 = day * DAY_S, day * DAY_S + 6 * 3600
        drawn_l = sum(h.litres(t0, t1) for h in courtyard.households)
        got_l = (int(creg.totals_ml[t1 // 60]) - int(creg.totals_ml[t0 // 60])) / 1000
        assert abs(got_l - drawn_l) <= 1
    assert (creg.totals_ml[1:] >= creg.totals_ml[:-1]).all()


def test_hour_spans_equal_folding_every_reading_of_every_hour(plan, regs):
    for home in (plan.homes[1], plan.homes[4]):  # a courtyard, and a home with a dripping tap
        reg = regs[home.meter_id]
        spans = hour_spans(reg)
        assert len(spans) == (reg.last_ts_s - 1) // 3600 - (reg.origin_s - 1) // 3600 + 1
        k = 0
        for hour, span, peak in spans:
            ks = []
            while k < len(reg.totals_ml) and reg.ts(k) <= hour + 3600:
                ks.append(k)
                k += 1
            assert span == fold_marks([reg.mark(j) for j in ks]), f"hour {hour}"
            flows = [(int(reg.totals_ml[j]) - int(reg.totals_ml[j - 1])) / 1000 for j in ks if j > 0]
            assert peak == (max(flows) if flows else None)


def test_day_litres_are_the_rule_over_each_local_day(plan, regs):
    home = plan.homes[0]
    reg = regs[home.meter_id]
    days = days_between(plan.first_day, plan.last_full_day)
    litres = day_litres(reg, hour_spans(reg), days, plan.zone_name)
    tz = zone(plan.zone_name)
    for d in days[::9]:
        a, b = day_bounds_s(d, tz)
        used_ml = int(reg.totals_ml[reg.index_of(b)]) - int(reg.totals_ml[reg.index_of(a)])
        assert litres[d] * 1000 == used_ml
    assert sum(litres.values()) * 1000 == int(
        reg.totals_ml[reg.index_of(day_bounds_s(days[-1], tz)[1])]
    ) - int(reg.totals_ml[0])


def test_year_summer_draws_more_than_winter_and_long_holidays_empty_some_homes():
    year = Year(date(2025, 1, 1), days=400)
    houses = [Household(seed=s, year=year) for s in range(40)]

    def month_l(first: date) -> float:
        d0 = (first - year.first_day).days
        return sum(h.litres(d0 * DAY_S, (d0 + 28) * DAY_S) for h in houses)

    assert month_l(date(2025, 7, 5)) > 1.15 * month_l(date(2025, 12, 5))
    spring = (date(2025, 1, 30) - year.first_day).days  # Spring Festival 2025 (holidays package)
    away = [h for h in houses if year.day(h.seed, spring).away]
    assert 4 <= len(away) <= 28
    for h in away:
        assert h.litres(spring * DAY_S, (spring + 1) * DAY_S) == 0
    kinds = [year.day(1, spring + k) for k in range(-1, 2)]
    assert all(k.off for k in kinds[1:]) and kinds[1].holiday


def test_a_year_does_not_change_households_without_one():
    a, b = Household(seed=11), Household(seed=11)
    assert a.litres(0, 20 * DAY_S) == b.litres(0, 20 * DAY_S)
    with_year = Household(seed=11, year=Year(date(2026, 3, 2)))  # a Monday in spring: season ~ 1
    assert abs(with_year.litres(0, 5 * DAY_S) / a.litres(0, 5 * DAY_S) - 1) < 0.2
