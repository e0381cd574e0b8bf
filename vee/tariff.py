"""Billing determinants: volume per tariff tier per billing period from the validated series.

The tariff is core.tariffs' (prices, tier bounds, period, the utility's zone): the same model the
prepaid ledger charges with. The tiers of a bill always sum to the consumption over the bill period,
and its charge telescopes exactly as the ledger's day charges do (docs/billing.md, "One bill").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.money import fen
from core.tariffs import Tariff
from vee.model import Series


@dataclass(frozen=True, slots=True)
class Determinants:
    """What a bill needs for one period."""

    start_s: int
    stop_s: int
    volume_ml: int
    tier_ml: list[int]
    charge_yuan: Decimal
    estimated: bool
    edited: bool

    @property
    def charge_fen(self) -> int:
        """The charge in whole fen."""
        return fen(self.charge_yuan)


def determinants(series: Series, start_s: int, stop_s: int, tariff: Tariff) -> Determinants:
    """Volume per tier for (start_s, stop_s]; the tier position counts from each billing period's start.

    The charge of each billing-period piece is cost(before + used) − cost(before), both rounded to the
    fen, so it equals the sum of the ledger's day charges over the same days.
    """
    if stop_s <= start_s:
        raise ValueError("stop must be after start")
    tiers = [0] * len(tariff.tiers)
    charge = Decimal(0)
    t = start_s
    while t < stop_s:
        p_start, p_end = tariff.period_bounds_s(t + 1)
        end = min(p_end, stop_s)
        before = series.consumption(p_start, t)
        used = series.consumption(t, end)
        tiers = [a + b for a, b in zip(tiers, tariff.split_tiers(before, used), strict=True)]
        charge += tariff.charge_ml(before, used)
        t = end
    return Determinants(
        start_s,
        stop_s,
        series.consumption(start_s, stop_s),
        tiers,
        charge,
        series.uses_estimates(start_s, stop_s),
        series.uses_edits(start_s, stop_s),
    )


def period_reach_s(tariff: Tariff, start_s: int) -> int:
    """The start of the billing period holding (start_s, …]: how far back a series must reach."""
    return tariff.period_bounds_s(start_s + 1)[0]
