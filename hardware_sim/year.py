"""A household's year: summer draws more water than winter, public holidays are spent like weekends, and
some households leave town for the long holidays (Spring Festival, National Day).

Public holidays come from the `holidays` package (China's, with the State Council's substitute days off).
Everything is a pure function of the day and the household's seed, so a year is the same every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import holidays

SEASON_AMPLITUDE = 0.18  # shower, tap and garden water: +18 % at the height of summer, -18 % in winter
PEAK_DAY_OF_YEAR = 200  # about 19 July, the hottest weeks
GOLDEN_WEEK_DAYS = 7  # a run of at least this many days off in a row is a long holiday
AWAY_SHARE = 0.35  # share of households away from home for a given long holiday


@dataclass(frozen=True, slots=True)
class DayKind:
    """How one day is spent."""

    season: float  # multiplies the length of showers, tap runs and watering (1.0: a spring day)
    off: bool  # weekend or public holiday: a later morning and more laundry
    away: bool  # the household is out of town: nobody draws water
    holiday: str | None = None  # the public holiday's name, if any


@dataclass(frozen=True)
class Year:
    """The calendar households live by; virtual day 0 is the local date `first_day`."""

    first_day: date
    country: str = "CN"
    days: int = 800  # how far ahead the holiday table reaches
    amplitude: float = SEASON_AMPLITUDE

    @cached_property
    def _holidays(self) -> dict[date, str]:
        last = self.first_day + timedelta(days=self.days)
        years = list(range(self.first_day.year, last.year + 1))
        return dict(holidays.country_holidays(self.country, years=years).items())

    @cached_property
    def _long_breaks(self) -> dict[date, date]:
        """Each day of a long holiday (>= GOLDEN_WEEK_DAYS days off in a row) -> the break's first day."""
        out: dict[date, date] = {}
        run: list[date] = []
        d = self.first_day - timedelta(days=GOLDEN_WEEK_DAYS)
        last = self.first_day + timedelta(days=self.days)
        while d <= last:
            if d.weekday() >= 5 or d in self._holidays:
                run.append(d)
            else:
                if len(run) >= GOLDEN_WEEK_DAYS and any(x in self._holidays for x in run):
                    out.update((x, run[0]) for x in run)
                run = []
            d += timedelta(days=1)
        return out

    def date_of(self, day: int) -> date:
        """The local date of virtual day `day`."""
        return self.first_day + timedelta(days=day)

    def season(self, d: date) -> float:
        """Seasonal factor of a date: 1 + amplitude at the summer peak, 1 - amplitude in midwinter."""
        doy = d.timetuple().tm_yday
        return 1.0 + self.amplitude * math.cos(2 * math.pi * (doy - PEAK_DAY_OF_YEAR) / 365.25)

    def day(self, seed: int, day: int) -> DayKind:
        """How the household with this seed spends virtual day `day`."""
        d = self.date_of(day)
        name = self._holidays.get(d)
        away = False
        start = self._long_breaks.get(d)
        if start is not None:
            # One decision per household and break: the whole break away, or the whole break at home.
            away = random.Random(seed * 1_000_003 + start.toordinal()).random() < AWAY_SHARE
        return DayKind(self.season(d), d.weekday() >= 5 or name is not None, away, name)
