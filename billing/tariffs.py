"""Tiered residential tariffs (阶梯水价) as data (tariffs.json): cost of volume at a tier position.

A tier's `up_to_m3` is the cumulative volume in the billing period (year or month) at which the
next tier starts. The period's position carries over from day to day: cost(V) is the cost of the
first V m³ of the period, so the cost of a day is cost(before + day) - cost(before).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from billing.money import yuan

_DATA = Path(__file__).with_name("tariffs.json")
LITRES_PER_M3 = Decimal(1000)


class UnknownUtility(KeyError):
    """No tariff for this utility code."""


@dataclass(frozen=True, slots=True)
class Tier:
    up_to_m3: Decimal | None  # None: no upper bound
    yuan_per_m3: Decimal


@dataclass(frozen=True, slots=True)
class Tariff:
    """One utility's tiers, billing period and account-number format."""

    code: str
    name: str
    account_number_digits: int
    period: str  # "annual" | "monthly"
    year_start_month: int
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if self.period not in ("annual", "monthly"):
            raise ValueError(f"tariff {self.code}: period must be annual or monthly, got {self.period!r}")
        if not 8 <= self.account_number_digits <= 12:
            raise ValueError(f"tariff {self.code}: account numbers have 8-12 digits")
        if not self.tiers or self.tiers[-1].up_to_m3 is not None:
            raise ValueError(f"tariff {self.code}: the last tier must be unbounded (up_to_m3 null)")
        bounds = [t.up_to_m3 for t in self.tiers[:-1]]
        if any(b is None or b <= 0 for b in bounds) or bounds != sorted(bounds):
            raise ValueError(f"tariff {self.code}: tier bounds must be positive and increasing")

    def period_start(self, day: date) -> date:
        """First day of the billing period containing `day`."""
        if self.period == "monthly":
            return day.replace(day=1)
        year = day.year if day.month >= self.year_start_month else day.year - 1
        return date(year, self.year_start_month, 1)

    def cost_exact(self, volume_m3: Decimal) -> Decimal:
        """Unrounded cost of the first `volume_m3` of a period."""
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
        return yuan(self.cost_exact(period_litres / LITRES_PER_M3))

    def charge(self, before_l: Decimal, used_l: Decimal) -> Decimal:
        """Cost of `used_l` litres when `before_l` were already used in the period (telescopes exactly)."""
        return self.cost_of_litres(before_l + used_l) - self.cost_of_litres(before_l)

    def price_at(self, before_l: Decimal) -> Decimal:
        """Marginal yuan/m³ at this position in the period."""
        v = before_l / LITRES_PER_M3
        for tier in self.tiers:
            if tier.up_to_m3 is None or v < tier.up_to_m3:
                return tier.yuan_per_m3
        return self.tiers[-1].yuan_per_m3

    def validate_account_number(self, number: str) -> str:
        """The number if it has exactly the utility's digit count; ValueError naming the format otherwise."""
        n = self.account_number_digits
        if not (isinstance(number, str) and number.isascii() and number.isdigit() and len(number) == n):
            raise ValueError(
                f"{self.code} account numbers are exactly {n} digits (0-9), e.g. {'1' * n}; got {number!r}"
            )
        return number


def _tariff(code: str, raw: dict) -> Tariff:
    try:
        tiers = tuple(
            Tier(None if t["up_to_m3"] is None else Decimal(t["up_to_m3"]), Decimal(t["yuan_per_m3"]))
            for t in raw["tiers"]
        )
        return Tariff(
            code,
            raw["name"],
            int(raw["account_number_digits"]),
            raw["period"],
            int(raw.get("year_start_month", 1)),
            tiers,
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
