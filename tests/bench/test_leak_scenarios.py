"""A reduced evaluation (5 households of each kind with a leak, 5 without, 2 weeks) meets the goals.

Seeds 303/304 were never used to tune (tuning: bench.leak_scenarios.TUNE_SEEDS; bench.leaks reports
on 1001/1002)."""

import pytest

from bench import leak_scenarios as ev
from bench.households import KINDS

LEAK_SEED, FREE_SEED = 303, 304


@pytest.fixture(scope="module")
def report():
    pop = ev.population(LEAK_SEED, 5, 2, with_leaks=True) + ev.population(FREE_SEED, 5, 2, with_leaks=False)
    return ev.score(pop)


def test_every_household_kind_and_leak_kind_is_evaluated(report):
    assert set(report.houses) == set(KINDS)
    assert {r.leak.kind for r in report.leaks} == set(ev.LEAK_KINDS)
    assert len(report.goal_background()) >= 15 and len(report.goal_bursts()) >= 5


def test_goals_hold_on_households_never_tuned_on(report):
    goals = report.goals()
    assert all(met for _, met in goals.values()), goals


def test_tables_have_a_row_per_kind(report):
    assert [r["name"] for r in ev.leak_rows(report)] == list(ev.LEAK_KINDS)
    rows = ev.house_rows(report)
    assert {r["name"] for r in rows} == set(KINDS)
    assert sum(r["false"] for r in rows) == round(report.false_per_100_weeks * report.weeks / 100)


def test_population_is_deterministic_and_holds_each_kind():
    a = ev.population(LEAK_SEED, 2, 2, with_leaks=True)
    assert a == ev.population(LEAK_SEED, 2, 2, with_leaks=True)
    assert {sc.house.kind for sc in a} == set(KINDS)
    assert all(2 * ev.DAY_S <= sc.leak.start_s < sc.leak.end_s <= 14 * ev.DAY_S for sc in a)
