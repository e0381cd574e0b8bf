"""Fixtures for the leak tests: household minutes with leaks put in by bench.leak_scenarios."""

from __future__ import annotations

import pytest

from bench.leak_scenarios import T0_S, InjectedLeak, Scenario, household_minutes

H = 3600
D = 86400
LEAK_FREE_SEEDS = (2, 10, 29, 47)  # 2: five people; 10, 29, 47 water the garden at 18-20 L/min for ~19 min


def series_of(sc: Scenario, l_per_pulse: float = 0.0) -> list[tuple[int, float]]:
    """(ts_s, litres) pairs of a scenario, missing minutes left out."""
    return [(T0_S + 60 * i, v) for i, v in enumerate(household_minutes(sc, l_per_pulse).tolist()) if v == v]


@pytest.fixture
def make_series():
    """Build the minutes of one household, optionally with one injected leak."""

    def make(seed: int, days: int, leak: InjectedLeak | None = None, gaps=(), l_per_pulse: float = 0.0):
        return series_of(Scenario(seed, days, leak, tuple(gaps)), l_per_pulse)

    return make
