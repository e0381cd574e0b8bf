"""Tiered residential tariffs (阶梯水价), one model over one data file (core/tariffs.json).

A tier's `up_to_m3` is the cumulative volume in the billing period (year or month, starting at local
midnight in the utility's zone) at which the next tier starts. cost(V) is the cost of the first V m³
of a period, so the cost of any part of a period is cost(before + part) − cost(before), and charges
rounded that way telescope: the parts of a period always add up to the rounded cost of its volume.
The ledger (billing) and VEE's determinants both use exactly these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import Invalid
from core.money import yuan
from core.timezones import local_date, midnight_s, zone
from core.units import L_PER_M3, ML_PER_M3

_DATA = Path(__file__).with_name("tariffs.json")
PERIODS = ("annual", "monthly")
# How a resident proves an account is theirs before binding it (billing.verification):
# an SMS code to the holder's phone number on file, and/or the last 4 characters of the holder's ID card.
VERIFICATION_METHODS = ("sms", "id_last4")


class UnknownUtility(Invalid):
    """No tariff for this utility code."""


class BadAccountNumber(Invalid):
    """An account number that does not have the utility's format."""


@dataclass(frozen=True, slots=True)
class Tier:
    """Up to `up_to_m3` in the period (None: no bound), at `yuan_per_m3`."""

    up_to_m3: Decimal | None
    yuan_per_m3: Decimal


@dataclass(frozen=True, slots=True)
class TariffSource:
    """Where the prices come from, as written in the data file."""

    publisher: str
    title: str
    url: str
    published: str
    effective: str
    checked: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Tariff:
    """One utility's tiers, billing period, time zone and account-number format."""

    code: str
    name: str
    zone_name: str
    account_number_digits: int
    period: str  # "annual" | "monthly"
    year_start_month: int
    tiers: tuple[Tier, ...]
    source: TariffSource | None = None
    verification: tuple[str, ...] = ("sms",)  # every method listed must pass, in this order

    def __post_init__(self) -> None:
        if not self.verification or not set(self.verification) <= set(VERIFICATION_METHODS):
            raise ValueError(
                f"tariff {self.code}: verification must be one or more of {VERIFICATION_METHODS}, "
                f"got {self.verification!r}"
            )
        if len(set(self.verification)) != len(self.verification):
            raise ValueError(f"tariff {self.code}: verification lists a method twice")
        if self.period not in PERIODS:
            raise ValueError(f"tariff {self.code}: period must be annual or monthly, got {self.period!r}")
        if not 8 <= self.account_number_digits <= 12:
            raise ValueError(f"tariff {self.code}: account numbers have 8-12 digits")
        if not 1 <= self.year_start_month <= 12:
            raise ValueError(f"tariff {self.code}: year_start_month must be 1..12")
        if not self.tiers or self.tiers[-1].up_to_m3 is not None:
            raise ValueError(f"tariff {self.code}: the last tier must be unbounded (up_to_m3 null)")
        bounds = [t.up_to_m3 for t in self.tiers[:-1]]
        if any(b is None or b <= 0 for b in bounds) or bounds != sorted(set(bounds)):  # type: ignore[type-var]
            raise ValueError(f"tariff {self.code}: tier bounds must be positive and increasing")
        if any(t.yuan_per_m3 < 0 for t in self.tiers):
            raise ValueError(f"tariff {self.code}: prices must not be negative")
        zone(self.zone_name)

    @property
    def zone(self) -> ZoneInfo:
        """The utility's IANA zone: days and billing periods start at its local midnight."""
        return zone(self.zone_name)

    @property
    def bounds_ml(self) -> list[int]:
        """Tier bounds in millilitres (every tier but the last)."""
        return [int(t.up_to_m3 * ML_PER_M3) for t in self.tiers[:-1] if t.up_to_m3 is not None]

    # -- periods ---------------------------------------------------------------------------
    def period_start(self, day: date) -> date:
        """First day of the billing period containing `day`."""
        if self.period == "monthly":
            return day.replace(day=1)
        year = day.year if day.month >= self.year_start_month else day.year - 1
        return date(year, self.year_start_month, 1)

    def next_period_start(self, day: date) -> date:
        """First day of the billing period after the one containing `day`."""
        start = self.period_start(day)
        if self.period == "monthly":
            return date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return date(start.year + 1, start.month, 1)

    def period_bounds_s(self, t_s: int) -> tuple[int, int]:
        """(start, end] instants of the billing period holding instant t_s, in the utility's zone.

        Periods are right-closed like consumption: the instant of a boundary belongs to the period it ends.
        """
        day = local_date(t_s - 1, self.zone)
        return midnight_s(self.period_start(day), self.zone), midnight_s(
            self.next_period_start(day), self.zone
        )

    # -- cost ------------------------------------------------------------------------------
    def cost_exact(self, volume_m3: Decimal) -> Decimal:
        """Unrounded cost (yuan) of the first `volume_m3` of a period."""
        if volume_m3 < 0:
            raise ValueError("volume must be non-negative")
        total = Decimal(0)
        lower = Decimal(0)
        for tier in self.tiers:
            upper = tier.up_to_m3
            in_tier = volume_m3 - lower if upper is None else min(volume_m3, upper) - lower
            if in_tier <= 0:
                break
            total += in_tier * tier.yuan_per_m3
            if upper is None:
                break
            lower = upper
        return total

    def cost_of_litres(self, period_litres: Decimal) -> Decimal:
        """Cost of the first `period_litres` of a period, rounded to the fen."""
        return yuan(self.cost_exact(period_litres / L_PER_M3))

    def cost_of_ml(self, period_ml: int) -> Decimal:
        """Cost of the first `period_ml` of a period, rounded to the fen."""
        return yuan(self.cost_exact(Decimal(period_ml) / ML_PER_M3))

    def charge(self, before_l: Decimal, used_l: Decimal) -> Decimal:
        """Cost of `used_l` litres when `before_l` were already used in the period (telescopes exactly)."""
        return self.cost_of_litres(before_l + used_l) - self.cost_of_litres(before_l)

    def charge_ml(self, before_ml: int, used_ml: int) -> Decimal:
        """`charge` in integer millilitres."""
        return self.cost_of_ml(before_ml + used_ml) - self.cost_of_ml(before_ml)

    def price_at(self, before_l: Decimal) -> Decimal:
        """Marginal yuan/m³ at this position in the period."""
        v = before_l / L_PER_M3
        for tier in self.tiers:
            if tier.up_to_m3 is None or v < tier.up_to_m3:
                return tier.yuan_per_m3
        return self.tiers[-1].yuan_per_m3

    def split_tiers(self, before_ml: int, used_ml: int) -> list[int]:
        """`used_ml` split over the tiers (ml per tier), given `before_ml` already used in the period."""
        return split_tiers(before_ml, used_ml, self.bounds_ml)

    # -- accounts --------------------------------------------------------------------------
    def validate_account_number(self, number: object) -> str:
        """The number if it has exactly the utility's digit count; BadAccountNumber naming the format."""
        n = self.account_number_digits
        if not (isinstance(number, str) and number.isascii() and number.isdigit() and len(number) == n):
            raise BadAccountNumber(
                f"{self.code} account numbers are exactly {n} digits (0-9), e.g. {'1' * n}; got {number!r}"
            )
        return number


def split_tiers(before_ml: int, used_ml: int, bounds_ml: list[int]) -> list[int]:
    """Split `used_ml` over tiers with these upper bounds, given `before_ml` already used in the period."""
    if before_ml < 0 or used_ml < 0:
        raise ValueError("volumes must be non-negative")
    end = before_ml + used_ml
    lows = [0, *bounds_ml]
    highs = [*bounds_ml, max(end, bounds_ml[-1] if bounds_ml else 0)]
    return [max(0, min(end, hi) - max(before_ml, lo)) for lo, hi in zip(lows, highs, strict=True)]


def _tariff(code: str, raw: dict) -> Tariff:
    try:
        tiers = tuple(
            Tier(None if t["up_to_m3"] is None else Decimal(t["up_to_m3"]), Decimal(t["yuan_per_m3"]))
            for t in raw["tiers"]
        )
        src = raw.get("source")
        return Tariff(
            code,
            raw["name"],
            raw["zone"],
            int(raw["account_number_digits"]),
            raw["period"],
            int(raw.get("year_start_month", 1)),
            tiers,
            TariffSource(**src) if src else None,
            tuple(raw.get("verification", ("sms",))),
        )
    except (KeyError, TypeError, ArithmeticError) as err:
        raise ValueError(f"tariff {code}: malformed entry ({err})") from err


@lru_cache
def load_tariffs(path: Path = _DATA) -> dict[str, Tariff]:
    """All tariffs in a JSON file, validated."""
    return {code: _tariff(code, raw) for code, raw in json.loads(path.read_text()).items()}


def tariff_for(utility: str) -> Tariff:
    """The tariff of a utility code; UnknownUtility lists the known codes."""
    tariffs = load_tariffs()
    try:
        return tariffs[utility]
    except KeyError as err:
        raise UnknownUtility(f"unknown utility {utility!r}; known: {', '.join(sorted(tariffs))}") from err
