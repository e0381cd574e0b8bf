"""What a resident sees first about an account: balance against its warning level, days left at the
current rate, and where this billing period's use stands on the tariff's tiers.

Every figure comes from the functions the warnings and the ledger use (billing.balance, core.tariffs),
so the app shows the same numbers the alerts are raised on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from billing.balance import WarningRules, days_left, period_used, recent_rate
from billing.db import Account
from billing.ledger import account_tariff
from billing.payments import last_payment_at
from core.units import L_PER_M3


@dataclass(frozen=True, slots=True)
class TierBand:
    """One tier of the period: from/to litres of the period's use (to None: no bound) and its price."""

    from_l: Decimal
    to_l: Decimal | None
    yuan_per_m3: Decimal


@dataclass(frozen=True, slots=True)
class Overview:
    """An account's balance, warning level, days left and tier position on one local day."""

    account_id: int
    today: date
    zone: str
    balance_yuan: Decimal
    low_balance_yuan: Decimal
    low_balance_is_default: bool
    below_low_balance: bool
    daily_l: Decimal | None
    days_left: int | None
    last_payment_at: datetime | None
    period: str
    period_start: date
    period_end: date  # first day of the next period
    period_used_l: Decimal
    tiers: list[TierBand]
    tier_index: int
    price_yuan_per_m3: Decimal
    to_next_tier_l: Decimal | None
    next_price_yuan_per_m3: Decimal | None


def tier_bands(account: Account) -> list[TierBand]:
    """The account's tariff tiers in litres of a period's use."""
    bands, lower = [], Decimal(0)
    for tier in account_tariff(account).tiers:
        upper = None if tier.up_to_m3 is None else tier.up_to_m3 * L_PER_M3
        bands.append(TierBand(lower, upper, tier.yuan_per_m3))
        lower = upper if upper is not None else lower
    return bands


def overview(session: Session, account: Account, now: datetime, rules: WarningRules) -> Overview:
    """The account's overview at `now` (days local to its utility)."""
    tariff = account_tariff(account)
    today = now.astimezone(tariff.zone).date()
    used = period_used(session, account.id, tariff, today)
    rate = recent_rate(session, account.id, today, rules.recent_days)
    left = days_left(account.balance, tariff, today, used, rate) if rate is not None else None
    if rate is None and account.balance <= 0:
        left = 0
    threshold = account.low_balance_yuan if account.low_balance_yuan is not None else rules.low_balance_yuan
    bands = tier_bands(account)
    index = next(i for i, b in enumerate(bands) if b.to_l is None or used < b.to_l)
    band = bands[index]
    nxt = bands[index + 1] if index + 1 < len(bands) else None
    return Overview(
        account_id=account.id,
        today=today,
        zone=tariff.zone_name,
        balance_yuan=account.balance,
        low_balance_yuan=threshold,
        low_balance_is_default=account.low_balance_yuan is None,
        below_low_balance=account.balance < threshold,
        daily_l=rate,
        days_left=left,
        last_payment_at=last_payment_at(session, [account.id]).get(account.id),
        period=tariff.period,
        period_start=tariff.period_start(today),
        period_end=tariff.next_period_start(today),
        period_used_l=used,
        tiers=bands,
        tier_index=index,
        price_yuan_per_m3=band.yuan_per_m3,
        to_next_tier_l=None if band.to_l is None else band.to_l - used,
        next_price_yuan_per_m3=None if nxt is None else nxt.yuan_per_m3,
    )
