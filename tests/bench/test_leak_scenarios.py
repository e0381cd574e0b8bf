"""A scaled-down evaluation (30 + 30 households x 2 weeks) meets the issue's goals."""

import pytest

from bench import leak_scenarios as ev

# Seeds 21/22 were used to tune the thresholds; these were not, and bench.leaks uses others again.
LEAK_SEED, FREE_SEED = 303, 304


@pytest.mark.parametrize("l_per_pulse", [0.0, 1.0])
def test_goals_hold_on_30_households(l_per_pulse):
    leak_pop = ev.population(LEAK_SEED, 30, 2, with_leaks=True)
    free_pop = ev.population(FREE_SEED, 30, 2, with_leaks=False)
    rep = ev.score(leak_pop, free_pop, l_per_pulse=l_per_pulse)
    goals = rep.goals()
    assert len(rep.goal_background()) >= 5 and len(rep.goal_bursts()) >= 3
    assert all(met for _, met in goals.values()), goals
    assert rep.leak_unmatched_alerts == 0


def test_population_is_deterministic_and_holds_each_kind():
    a = ev.population(LEAK_SEED, 9, 2, with_leaks=True)
    assert a == ev.population(LEAK_SEED, 9, 2, with_leaks=True)
    assert {sc.leak.kind for sc in a} == {"drip", "toilet", "burst"}
    assert all(2 * ev.DAY_S <= sc.leak.start_s < sc.leak.end_s <= 14 * ev.DAY_S for sc in a)
