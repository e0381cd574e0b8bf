"""Fixtures for the leak tests: minutes of bench.households kinds, with leaks from bench.leak_scenarios."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench.households import HouseholdSpec
from bench.leak_scenarios import InjectedLeak, Scenario, scenario_minutes

H = 3600
D = 86400


@dataclass(frozen=True)
class Series:
    """One household's minutes as the monitor feeds them, and the instant its day 0 began."""

    t0_s: int
    pairs: list[tuple[int, float]]


def series_of(sc: Scenario) -> Series:
    """(ts_s, litres) pairs of a scenario, missing minutes left out."""
    t0, litres = scenario_minutes(sc)
    return Series(t0, [(t0 + 60 * i, v) for i, v in enumerate(litres.tolist()) if v == v])


@pytest.fixture
def make_series():
    """Build the minutes of one household of a kind, optionally with one injected leak."""

    def make(
        kind: str,
        seed: int,
        days: int,
        leak: InjectedLeak | None = None,
        gaps=(),
        l_per_pulse: float = 0.0,
        tz: str = "UTC",
        phase_s: float = 30.0,
    ) -> Series:
        return series_of(
            Scenario(HouseholdSpec(kind, seed, days, tz), leak, tuple(gaps), l_per_pulse, phase_s)
        )

    return make
