"""Household water use: a deterministic, seeded profile of draws over virtual time."""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from hardware_sim.year import Year

DAY_S = 86400


@dataclass(frozen=True)
class Draw:
    """Water flowing at a constant rate for a while."""

    start_s: float
    duration_s: float
    flow_lpm: float
    kind: str

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def litres(self) -> float:
        return self.flow_lpm * self.duration_s / 60.0


@dataclass(frozen=True)
class Leak:
    """An injected leak: constant drip, running toilet, or burst."""

    kind: str  # "drip" | "toilet" | "burst"
    start_s: float
    end_s: float
    flow_lph: float

    def as_dict(self) -> dict:
        return {"kind": self.kind, "start_s": self.start_s, "end_s": self.end_s, "flow_lph": self.flow_lph}


@dataclass
class Household:
    """Occupants' showers, toilets, taps, laundry and irrigation, day by day, plus leaks.

    Without a `year` every week is the same (weekends by `start_weekday`); with one, virtual day 0 is
    `year.first_day` and summer, public holidays and long trips away change the days (hardware_sim.year).
    """

    seed: int
    occupants: int = 0
    irrigates: bool = False
    start_weekday: int = 0  # 0 = Monday, weekday of virtual day 0 (ignored with a year)
    leaks: list[Leak] = field(default_factory=list)
    year: Year | None = None
    _draws: list[Draw] = field(default_factory=list, repr=False)
    _days_built: int = 0
    _starts: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        if not self.occupants:
            self.occupants = rng.choice([1, 2, 2, 3, 3, 4, 5])
        self.irrigates = self.irrigates or rng.random() < 0.15

    def _build_day(self, day: int) -> None:
        rng = random.Random(self.seed * 100003 + day)
        base = day * DAY_S
        weekend = (self.start_weekday + day) % 7 >= 5
        f = 1.0  # the season: longer showers, tap runs and watering in summer
        if self.year is not None:
            kind = self.year.day(self.seed, day)
            if kind.away:
                return  # out of town: nothing drawn (leaks go on: they are added in litres())
            weekend, f = kind.off, kind.season
        wake_h = 8.0 if weekend else 6.5
        draws: list[Draw] = []

        def at(h0: float, h1: float) -> float:
            return base + rng.uniform(h0, h1) * 3600

        for _ in range(self.occupants):
            if rng.random() < 0.85:
                h = (wake_h, wake_h + 2) if rng.random() < 0.6 else (19.0, 22.5)
                draws.append(Draw(at(*h), rng.uniform(300, 720) * f, rng.uniform(6, 10), "shower"))
            for _ in range(rng.randint(4, 6)):
                draws.append(Draw(at(wake_h, 23.5), rng.uniform(35, 60), rng.uniform(8, 10), "toilet"))
            if rng.random() < 0.15:  # a night visit
                draws.append(Draw(at(1, 5), rng.uniform(35, 60), rng.uniform(8, 10), "toilet"))
        for _ in range(rng.randint(8, 12) + 3 * self.occupants):
            draws.append(Draw(at(wake_h, 23), rng.uniform(5, 45) * f, rng.uniform(3, 8), "tap"))
        if rng.random() < (0.6 if weekend else 0.3) + 0.05 * self.occupants:
            t = at(9, 20)
            for k in range(4):
                draws.append(Draw(t + k * 900, rng.uniform(90, 150), rng.uniform(8, 12), "washing_machine"))
        if self.irrigates and rng.random() < 0.4 * f * f:
            draws.append(Draw(at(18.5, 20.5), rng.uniform(600, 1200) * f, rng.uniform(12, 20), "irrigation"))
        # A day's draws all start within the day, after every earlier day's: sorting the day alone keeps
        # the whole list sorted (sorting all of it every day made a year of days quadratic).
        draws.sort(key=lambda d: d.start_s)
        self._draws.extend(draws)
        self._starts.extend(d.start_s for d in draws)

    def _ensure(self, t_s: float) -> None:
        while self._days_built * DAY_S <= t_s + DAY_S:
            self._build_day(self._days_built)
            self._days_built += 1

    def draws(self, t0_s: float, t1_s: float) -> list[Draw]:
        """Draws overlapping [t0, t1)."""
        self._ensure(t1_s)
        hi = bisect.bisect_left(self._starts, t1_s)
        lo = bisect.bisect_left(self._starts, t0_s - 3600)
        return [d for d in self._draws[lo:hi] if d.end_s > t0_s]

    def litres(self, t0_s: float, t1_s: float) -> float:
        """Litres drawn in [t0, t1), leaks included."""
        total = 0.0
        for d in self.draws(t0_s, t1_s):
            total += d.flow_lpm / 60.0 * (min(d.end_s, t1_s) - max(d.start_s, t0_s))
        for leak in self.leaks:
            overlap = min(leak.end_s, t1_s) - max(leak.start_s, t0_s)
            if overlap > 0:
                total += leak.flow_lph / 3600.0 * overlap
        return total


@dataclass
class Courtyard:
    """Several households behind one meter (a courtyard house, a shared supply): their water adds up."""

    members: list[Household]

    @property
    def seed(self) -> int:
        return self.members[0].seed

    @property
    def occupants(self) -> int:
        return sum(h.occupants for h in self.members)

    @property
    def leaks(self) -> list[Leak]:
        return [leak for h in self.members for leak in h.leaks]

    def draws(self, t0_s: float, t1_s: float) -> list[Draw]:
        """Every member's draws overlapping [t0, t1)."""
        return [d for h in self.members for d in h.draws(t0_s, t1_s)]

    def litres(self, t0_s: float, t1_s: float) -> float:
        """Litres every member drew in [t0, t1), leaks included."""
        return sum(h.litres(t0_s, t1_s) for h in self.members)


class PulseSource:
    """Turns drawn litres into whole meter pulses; remembers the fraction below one pulse."""

    def __init__(self, household: Household | Courtyard, ml_per_pulse: int, offset_s: float = 0.0):
        if ml_per_pulse <= 0:
            raise ValueError("ml_per_pulse must be positive")
        self.household = household
        self.offset_s = offset_s  # virtual time 0 is this far past the household's local midnight
        self.ml_per_pulse = ml_per_pulse
        self.drawn_ml = 0
        self.pulses = 0
        self._carry_ml = 0
        self._frac_ml = 0.0

    def advance(self, t0_s: float, t1_s: float) -> int:
        """Pulses emitted in [t0, t1)."""
        exact = self.household.litres(t0_s + self.offset_s, t1_s + self.offset_s) * 1000 + self._frac_ml
        ml = int(exact)
        self._frac_ml = exact - ml
        self.drawn_ml += ml
        self._carry_ml += ml
        n = self._carry_ml // self.ml_per_pulse
        self._carry_ml -= n * self.ml_per_pulse
        self.pulses += n
        return n

    @property
    def registered_ml(self) -> int:
        return self.pulses * self.ml_per_pulse
