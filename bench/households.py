"""Household kinds for the leak evaluation: what real households draw, minute by minute, in local time.

Each kind is the base household (people, fixtures, days) plus one habit that looks like a leak to a
naive rule. Parameters are drawn per household from ranges taken from published residential end-use
studies (REU 1999/2016 by Aquacraft/WRF: a shower 8.2 min at 8.3 L/min on average, 0.67 showers per
person-day, about 5 flushes per person-day of 4.8-13 L, a bath 75-150 L; sprinkler zones 5-30 min each
on fixed days before dawn or in the evening, 2-4 days a week; a pool loses 0.5-4 cm a week and is
topped up once or twice a week with a hose, or daily by an auto-fill float valve) and from how the
equipment works (a header tank's float valve refills at a limited rate after every draw; a rainwater
tank's mains top-up fills a fixed volume when the tank runs low).

A draw is (start_s, duration_s, flow_lpm), start in seconds after the household's first local midnight
(an instant: local time is asked of the household's IANA zone, so schedules follow DST).
`render_minutes` integrates draws exactly into litres per minute.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from core.timezones import zone
from hardware_sim.household import Household as ProjectHousehold

DAY_S = 86400
HOUR_S = 3600
FIRST_DAY = date(2026, 3, 2)  # a Monday; 28 days cross the DST changes of Europe, the US and Australia

KINDS = ("project", "base", "pool", "tank", "irrigation", "night_shift", "guests", "slow_bath", "holiday")
ZONES = (
    "Asia/Shanghai",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
)


@dataclass
class Draws:
    """Draws collected for one household: parallel lists, turned into arrays once."""

    start_s: list[float] = field(default_factory=list)
    dur_s: list[float] = field(default_factory=list)
    flow_lpm: list[float] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)

    def add(self, start_s: float, dur_s: float, flow_lpm: float, tag: str) -> None:
        """One draw (ignored when empty)."""
        if dur_s > 0 and flow_lpm > 0:
            self.start_s.append(start_s)
            self.dur_s.append(dur_s)
            self.flow_lpm.append(flow_lpm)
            self.tag.append(tag)

    def extend(self, other: Draws) -> None:
        """Append another set of draws."""
        for a, b, c, d in zip(other.start_s, other.dur_s, other.flow_lpm, other.tag, strict=True):
            self.add(a, b, c, d)


def render_minutes(draws: Draws, minutes: int, phase_s: float = 0.0) -> np.ndarray:
    """Litres in each minute [phase + 60 m, phase + 60 (m + 1)) from constant-rate draws, exactly.

    Volume is piecewise linear between draw starts and ends, so it is interpolated at minute edges.
    """
    if not draws.start_s:
        return np.zeros(minutes)
    s = np.asarray(draws.start_s, dtype=float)
    e = s + np.asarray(draws.dur_s, dtype=float)
    f = np.asarray(draws.flow_lpm, dtype=float) / 60.0
    t = np.concatenate([s, e])
    d = np.concatenate([f, -f])
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    rate = np.cumsum(d)
    vol = np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(t))])
    edges = phase_s + 60.0 * np.arange(minutes + 1)
    cum = np.interp(edges, t, vol, left=0.0, right=vol[-1])
    return np.maximum(np.diff(cum), 0.0)


class Clock:
    """Local wall time of one household → seconds after its first local midnight."""

    def __init__(self, tz: str, first_day: date = FIRST_DAY):
        self.tz = zone(tz)
        self.first_day = first_day
        self.t0_s = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=self.tz).timestamp())

    def at(self, day: int, hour: float) -> float:
        """Seconds after t0 of local wall time `hour` (may exceed 24) on day `day`."""
        d = self.first_day + timedelta(days=day)
        wall = datetime(d.year, d.month, d.day, tzinfo=self.tz) + timedelta(hours=hour)
        return wall.timestamp() - self.t0_s

    def weekday(self, day: int) -> int:
        """0 = Monday."""
        return (self.first_day + timedelta(days=day)).weekday()


def _lognormal(rng: random.Random, median: float, sigma: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma))))


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: lam is small here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class Person:
    """One occupant's habits (hours are local wall time)."""

    works_away: bool
    wake_weekday_h: float
    wake_weekend_h: float
    bed_h: float  # may exceed 24 (after midnight)
    away_from_h: float
    away_to_h: float
    shower_morning: float  # probability a shower is in the morning
    night_shift_days: tuple[int, ...] = ()  # weekdays with a night shift (away 21-07, asleep 08-15)


@dataclass
class Fixtures:
    """The dwelling's fittings: flows fixed per household (a shower head does not change)."""

    bathrooms: int
    shower_lpm: list[float]
    toilet_l: float
    toilet_fill_lpm: float
    tap_lpm: tuple[float, float]
    washer_fills: int
    washer_fill_l: float
    washer_lpm: float
    dishwasher: bool
    bath_share: float  # chance a person's wash is a bath (households with a tub)
    bath_lpm: float


class Home:
    """The base household: people and fixtures; `day_draws` writes one day of ordinary use."""

    def __init__(self, rng: random.Random, clock: Clock, occupants: int | None = None):
        self.rng = rng
        self.clock = clock
        n = occupants or rng.choices([1, 2, 3, 4, 5], weights=[28, 35, 15, 13, 9])[0]
        bathrooms = 1 if n <= 2 else rng.choice([1, 2, 2, 3])
        self.fix = Fixtures(
            bathrooms=bathrooms,
            shower_lpm=[rng.uniform(5.5, 11.0) for _ in range(bathrooms)],
            toilet_l=rng.choice([4.8, 6.0, 6.0, 9.0, 13.0]) * rng.uniform(0.9, 1.1),
            toilet_fill_lpm=rng.uniform(6.0, 14.0),
            tap_lpm=(rng.uniform(2.0, 4.0), rng.uniform(5.0, 8.5)),
            washer_fills=rng.choice([2, 3, 4, 5]),
            washer_fill_l=rng.uniform(10.0, 25.0),
            washer_lpm=rng.uniform(8.0, 15.0),
            dishwasher=rng.random() < 0.6,
            bath_share=rng.choice([0.0, 0.0, 0.05, 0.15]),
            bath_lpm=rng.uniform(12.0, 22.0),
        )
        self.people = [self._person(rng) for _ in range(n)]
        self.away_days: set[int] = set()  # filled by the holiday kind
        self.late_nights: set[int] = set()

    @staticmethod
    def _person(rng: random.Random) -> Person:
        wake = rng.gauss(6.7, 0.6)
        return Person(
            works_away=rng.random() < 0.65,
            wake_weekday_h=wake,
            wake_weekend_h=wake + rng.uniform(0.5, 2.0),
            bed_h=rng.gauss(23.1, 0.7),
            away_from_h=wake + rng.uniform(0.8, 1.6),
            away_to_h=rng.uniform(16.5, 19.0),
            shower_morning=rng.choice([0.2, 0.6, 0.8]),
        )

    # ---- one day -----------------------------------------------------------------------------------

    def day_draws(self, day: int, out: Draws, extra_people: int = 0) -> None:
        """Ordinary use of day `day` (nothing on days away)."""
        if day in self.away_days:
            return
        rng = self.rng
        weekend = self.clock.weekday(day) >= 5
        people = list(self.people) + [self._guest(rng) for _ in range(extra_people)]
        showers: list[float] = []
        for p in people:
            self._person_day(day, p, weekend, out, showers)
        self._household_day(day, weekend, len(people), out)

    @staticmethod
    def _guest(rng: random.Random) -> Person:
        wake = rng.gauss(7.8, 0.8)
        return Person(False, wake, wake, rng.gauss(23.8, 0.8), 0.0, 0.0, rng.choice([0.5, 0.8, 0.9]))

    def _awake_spans(self, day: int, p: Person, weekend: bool) -> list[tuple[float, float]]:
        """Local-hour spans at home and awake."""
        wd = self.clock.weekday(day)
        if wd in p.night_shift_days:
            # Back from the night shift ~07:00, asleep 08:30-15:30, up until leaving ~21:30.
            return [
                (self.rng.uniform(6.5, 7.5), self.rng.uniform(8.0, 9.0)),
                (self.rng.uniform(15.0, 16.0), self.rng.uniform(21.0, 22.0)),
            ]
        wake = (p.wake_weekend_h if weekend else p.wake_weekday_h) + self.rng.gauss(0, 0.25)
        bed = (
            p.bed_h + self.rng.gauss(0, 0.3) + (self.rng.uniform(1.0, 2.5) if day in self.late_nights else 0)
        )
        if (wd - 1) % 7 in p.night_shift_days:
            wake = max(wake, 9.0)  # sleeps in after the last shift
        if p.works_away and not weekend and wd not in p.night_shift_days:
            return [
                (wake, max(wake + 0.3, p.away_from_h + self.rng.gauss(0, 0.2))),
                (p.away_to_h + self.rng.gauss(0, 0.4), bed),
            ]
        return [(wake, bed)]

    def _person_day(self, day: int, p: Person, weekend: bool, out: Draws, showers: list[float]) -> None:
        rng, fix, at = self.rng, self.fix, self.clock.at
        spans = self._awake_spans(day, p, weekend)
        total_h = sum(max(0.0, b - a) for a, b in spans)
        if total_h <= 0:
            return

        def when() -> float:
            x = rng.uniform(0, total_h)
            for a, b in spans:
                if x <= b - a:
                    return a + x
                x -= max(0.0, b - a)
            return spans[-1][1]

        # A wash: a shower (morning or evening) or, in homes with a tub, sometimes a bath.
        if rng.random() < 0.72:
            if rng.random() < p.shower_morning:
                h = spans[0][0] + rng.uniform(0.05, 0.6)
            else:
                h = max(spans[-1][0], spans[-1][1] - rng.uniform(0.3, 2.5))
            if rng.random() < fix.bath_share:
                litres = rng.uniform(70, 160)
                out.add(at(day, h), litres / fix.bath_lpm * 60, fix.bath_lpm, "bath")
            else:
                bathroom = rng.randrange(fix.bathrooms)
                dur_s = _lognormal(rng, 7.5, 0.45, 2.0, 25.0) * 60
                t = at(day, h)
                # One bathroom per shower: a second person waits for it to be free.
                for other in showers:
                    if abs(other - t) < dur_s and fix.bathrooms == 1:
                        t = other + dur_s + rng.uniform(60, 600)
                showers.append(t)
                out.add(t, dur_s, fix.shower_lpm[bathroom] * rng.uniform(0.93, 1.05), "shower")
        # Toilets: about 5 a day, at home while awake, plus night visits.
        home_share = min(1.0, total_h / 15.0)
        for _ in range(_poisson(rng, 5.0 * home_share)):
            out.add(at(day, when()), fix.toilet_l / fix.toilet_fill_lpm * 60, fix.toilet_fill_lpm, "toilet")
        at_work_tonight = self.clock.weekday(day) in p.night_shift_days
        for _ in range(0 if at_work_tonight else _poisson(rng, 0.25)):
            lo_h = spans[-1][1] + 0.5
            hi_h = 24 + (p.wake_weekend_h if weekend else p.wake_weekday_h) - 0.3
            if hi_h > lo_h:
                out.add(
                    at(day, rng.uniform(lo_h, hi_h)),
                    fix.toilet_l / fix.toilet_fill_lpm * 60,
                    fix.toilet_fill_lpm,
                    "toilet",
                )
        # Taps: hands, teeth, kitchen; short and frequent, bigger around meals.
        for _ in range(_poisson(rng, 14.0 * home_share)):
            lo, hi = fix.tap_lpm
            out.add(at(day, when()), _lognormal(rng, 20, 0.9, 3, 300), rng.uniform(lo, hi), "tap")

    def _household_day(self, day: int, weekend: bool, n: int, out: Draws) -> None:
        rng, fix, at = self.rng, self.fix, self.clock.at
        for _ in range(min(3, _poisson(rng, 0.22 * n * (1.4 if weekend else 1.0)))):
            t = at(day, rng.uniform(8.0, 21.0))
            for k in range(fix.washer_fills):
                out.add(
                    t + k * rng.uniform(480, 1000),
                    fix.washer_fill_l / fix.washer_lpm * 60,
                    fix.washer_lpm,
                    "washer",
                )
        if fix.dishwasher and rng.random() < min(0.95, 0.35 + 0.12 * n):
            t = at(day, rng.uniform(19.5, 22.5))
            for k in range(rng.choice([4, 5, 6])):
                out.add(
                    t + k * rng.uniform(300, 700), rng.uniform(20, 45), rng.uniform(5.0, 8.0), "dishwasher"
                )
        # Cooking and cleaning: a sink filled now and then.
        for _ in range(_poisson(rng, 1.0 + 0.3 * n)):
            out.add(at(day, rng.uniform(7.0, 21.5)), rng.uniform(40, 150), rng.uniform(5.0, 9.0), "sink")


# ---- the kinds ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdSpec:
    """Which household: its kind, seed, length and zone."""

    kind: str
    seed: int
    days: int
    tz: str = "UTC"


@dataclass
class Rendered:
    """A household's draws, its zone and first instant."""

    spec: HouseholdSpec
    t0_s: int
    draws: Draws
    header_tank: tuple[float, float, float] | None = None  # (capacity L, refill L/min, valve band L)
    notes: dict = field(default_factory=dict)


def build(spec: HouseholdSpec) -> Rendered:
    """All the draws of one household over its days."""
    if spec.kind not in KINDS:
        raise ValueError(f"unknown household kind {spec.kind!r}")
    clock = Clock(spec.tz)
    rng = random.Random(spec.seed * 7919 + KINDS.index(spec.kind))
    out = Draws()
    if spec.kind == "project":
        return Rendered(spec, clock.t0_s, _project_draws(spec, clock))
    home = Home(rng, clock)
    notes: dict = {"occupants": len(home.people)}
    header = None
    extra: dict[int, int] = {}
    if spec.kind == "night_shift":
        _night_shift(rng, home, notes)
    elif spec.kind == "guests":
        extra = _guests(rng, home, spec.days, notes)
    elif spec.kind == "holiday":
        _holiday(rng, home, spec.days, notes)
    for day in range(spec.days):
        home.day_draws(day, out, extra.get(day, 0))
    if spec.kind == "pool":
        _pool(rng, clock, spec.days, out, notes)
    elif spec.kind == "tank":
        header = _tank(rng, clock, spec.days, out, notes)
    elif spec.kind == "irrigation":
        _irrigation(rng, clock, spec.days, out, notes)
    elif spec.kind == "slow_bath":
        _slow_baths(rng, clock, home, spec.days, out, notes)
    return Rendered(spec, clock.t0_s, out, header, notes)


def _project_draws(spec: HouseholdSpec, clock: Clock) -> Draws:
    """The project's own household model (hardware_sim.household), placed at local midnights."""
    house = ProjectHousehold(seed=spec.seed, start_weekday=clock.weekday(0))
    out = Draws()
    for d in house.draws(0, spec.days * DAY_S):
        day, sec = divmod(d.start_s, DAY_S)
        out.add(clock.at(int(day), sec / HOUR_S), d.duration_s, d.flow_lpm, d.kind)
    return out


def _pool(rng: random.Random, clock: Clock, days: int, out: Draws, notes: dict) -> None:
    """Pool top-ups: a hose once or twice a week at a habitual time, or an auto-fill valve every day."""
    area_m2 = rng.uniform(18, 60)
    if rng.random() < 0.7:
        hose_lpm = rng.uniform(10.0, 18.0)
        habit_h = rng.choice([rng.uniform(8.0, 11.0), rng.uniform(16.0, 19.5)])
        every_d = rng.uniform(3.0, 8.0)
        t = rng.uniform(0.0, every_d)
        notes.update(pool="hose", hose_lpm=round(hose_lpm, 1), every_d=round(every_d, 1))
        while t < days:
            day = int(t)
            drop_cm = rng.uniform(0.6, 3.0) * every_d / 5.0
            litres = area_m2 * drop_cm * 10.0
            minutes = min(300.0, litres / hose_lpm)
            if rng.random() < 0.08:
                minutes *= rng.uniform(1.3, 1.8)  # forgot the hose for a while
            out.add(
                clock.at(day, habit_h + rng.gauss(0, 0.6)),
                minutes * 60,
                hose_lpm * rng.uniform(0.95, 1.05),
                "pool_topup",
            )
            t += every_d * rng.uniform(0.7, 1.3)
    else:
        valve_lpm = rng.uniform(4.0, 11.0)
        notes.update(pool="autofill", valve_lpm=round(valve_lpm, 1))
        for day in range(days):
            # Evaporation of 0.3-1 cm a day, refilled in one to three fills when the level drops.
            litres = area_m2 * rng.uniform(3, 10)
            fills = rng.choice([1, 1, 2, 3])
            for _ in range(fills):
                out.add(
                    clock.at(day, rng.uniform(11.0, 23.0)),
                    litres / fills / valve_lpm * 60,
                    valve_lpm,
                    "pool_fill",
                )


def _tank(
    rng: random.Random, clock: Clock, days: int, out: Draws, notes: dict
) -> tuple[float, float, float] | None:
    """A rainwater tank topped up from the mains when it runs low, or a header tank behind a float valve."""
    if rng.random() < 0.5:
        volume_l = rng.uniform(150, 600)
        lpm = rng.uniform(8.0, 18.0)
        every_h = rng.uniform(14, 60)  # the tank runs low after toilets, laundry and garden used it up
        notes.update(tank="rain_topup", topup_l=round(volume_l), lpm=round(lpm, 1))
        t = rng.uniform(2, every_h)
        while t < days * 24:
            out.add(clock.at(0, t), volume_l / lpm * 60, lpm, "tank_topup")
            t += every_h * rng.uniform(0.6, 1.4)
        return None
    capacity = rng.uniform(100, 500)
    refill_lpm = rng.uniform(2.5, 12.0)
    band_l = rng.uniform(2.0, 30.0)
    notes.update(
        tank="header", capacity_l=round(capacity), refill_lpm=round(refill_lpm, 1), band_l=round(band_l)
    )
    return capacity, refill_lpm, band_l


def _irrigation(rng: random.Random, clock: Clock, days: int, out: Draws, notes: dict) -> None:
    """An irrigation controller: zones in turn at a fixed start time on fixed days; a hose in the evening."""
    zones = [
        (rng.uniform(6.0, 19.0), rng.choice([5, 8, 10, 12, 15, 20, 25, 30])) for _ in range(rng.randint(1, 6))
    ]
    if rng.random() < 0.3:
        zones.append((rng.uniform(2.0, 6.0), rng.choice([30, 45, 60, 90])))  # a drip line
    start_h = rng.choice([rng.uniform(3.0, 6.5), rng.uniform(19.0, 22.0)])
    kind = rng.choice(["weekdays", "every_day", "every_other_day"])
    weekdays = set(rng.sample(range(7), rng.randint(2, 4)))
    cycle_soak = rng.random() < 0.25
    notes.update(irrigation_zones=len(zones), start_h=round(start_h, 2), schedule=kind)
    programs: list[tuple[float, float]] = []
    for day in range(days):
        if kind == "weekdays" and clock.weekday(day) not in weekdays:
            continue
        if kind == "every_other_day" and day % 2:
            continue
        if rng.random() < 0.12:
            continue  # rain sensor or skipped by hand
        t_end = -1.0
        for rep in range(2 if cycle_soak else 1):
            # A controller queues a start that comes while a program still runs (no two valves open).
            t = max(clock.at(day, start_h + rep * 1.0), t_end + rng.uniform(0, 600))
            for lpm, minutes in zones:
                run_s = minutes * 60 / (2 if cycle_soak else 1)
                out.add(t, run_s, lpm, "irrigation")
                t += run_s + rng.choice([0, 0, 2, 5, 30])
            t_end = t
        programs.append((clock.at(day, start_h), t_end))
    if rng.random() < 0.4:
        # Watering by hand what the sprinklers miss (pots, new plants), never while they run.
        hose_lpm = rng.uniform(8.0, 16.0)
        for day in range(days):
            if rng.random() < 0.25:
                t, dur_s = clock.at(day, rng.uniform(17.5, 20.5)), rng.uniform(8, 40) * 60
                if not any(a - 600 < t + dur_s and t < b + 600 for a, b in programs):
                    out.add(t, dur_s, hose_lpm, "hose")


def _night_shift(rng: random.Random, home: Home, notes: dict) -> None:
    """One or two occupants work night shifts on four or five days of the week."""
    workers = rng.sample(home.people, k=min(len(home.people), rng.choice([1, 1, 2])))
    for p in workers:
        first = rng.randrange(7)
        p.night_shift_days = tuple((first + k) % 7 for k in range(rng.choice([4, 5])))
        p.works_away = False
    notes.update(night_workers=len(workers))


def _guests(rng: random.Random, home: Home, days: int, notes: dict) -> dict[int, int]:
    """Visits of 2-7 guests for 2-6 days: more showers at once, more laundry, later nights."""
    extra: dict[int, int] = {}
    visits = rng.randint(1, 3)
    for _ in range(visits):
        length = rng.randint(2, 6)
        first = rng.randrange(0, max(1, days - length))
        guests = rng.randint(2, 7)
        for d in range(first, first + length):
            extra[d] = max(extra.get(d, 0), guests)
            if rng.random() < 0.6:
                home.late_nights.add(d)
    # Guests mean a bigger house's bathrooms in use at once.
    home.fix.bathrooms = max(home.fix.bathrooms, rng.choice([2, 3]))
    while len(home.fix.shower_lpm) < home.fix.bathrooms:
        home.fix.shower_lpm.append(rng.uniform(6.0, 11.0))
    notes.update(guest_days=len(extra), max_guests=max(extra.values()))
    return extra


def _holiday(rng: random.Random, home: Home, days: int, notes: dict) -> None:
    """Away for 3-14 days (nothing drawn), sometimes also a weekend away."""
    length = rng.randint(3, min(14, max(3, days - 4)))
    first = rng.randrange(1, max(2, days - length))
    home.away_days.update(range(first, first + length))
    if rng.random() < 0.4 and days > 4:
        d = rng.randrange(0, days - 2)
        home.away_days.update((d, d + 1))
    notes.update(away_days=len(home.away_days))


def _slow_baths(rng: random.Random, clock: Clock, home: Home, days: int, out: Draws, notes: dict) -> None:
    """Baths run slowly (low pressure, a mixer tap half open): 3-8 L/min for 20-60 minutes, evenings."""
    lpm = rng.uniform(3.0, 8.0)
    per_week = rng.uniform(2, 6)
    notes.update(bath_lpm=round(lpm, 1), baths_per_week=round(per_week, 1))
    for day in range(days):
        if day in home.away_days or rng.random() > per_week / 7:
            continue
        litres = rng.uniform(90, 260)
        t = clock.at(day, rng.uniform(18.5, 22.5))
        out.add(t, litres / lpm * 60, lpm, "slow_bath")
        if rng.random() < 0.3:  # topped up with hot water later
            out.add(
                t + litres / lpm * 60 + rng.uniform(600, 1800), rng.uniform(60, 240), lpm * 1.5, "bath_topup"
            )


def through_header_tank(
    litres: np.ndarray, capacity_l: float, refill_lpm: float, band_l: float
) -> np.ndarray:
    """What the meter sees behind a header tank: the float valve refills at most refill_lpm.

    The valve opens once the level is band_l below full and, like a ball valve, throttles as the level
    nears full (inflow proportional to the deficit, capped at refill_lpm).
    """
    out = np.zeros_like(litres)
    deficit = 0.0
    open_ = False
    for m, demand in enumerate(litres.tolist()):
        deficit = min(capacity_l, deficit + demand)
        if deficit >= band_l:
            open_ = True
        if open_:
            inflow = min(refill_lpm, deficit, max(0.3, deficit * 0.35))
            deficit -= inflow
            out[m] = inflow
            if deficit <= 0.05:  # full: the valve shuts on the last few millilitres
                out[m] += deficit
                open_ = False
                deficit = 0.0
    return out
