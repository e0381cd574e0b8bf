"""Balance warnings: low balance, few days left at current use under the tariff, and leak cost.

Days left are simulated day by day under the tiered tariff (the tier position rises as water is
used and resets at a new billing period), so a household near a tier edge gets the honest figure.
The current rate is the mean of the last `recent_days` charged days. A live leak alert on one of
the account's meters raises a `leak_cost` warning: the leak's cost per day at the current tier
position, and days left with and without the leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.alerts import Delivery, raise_alert, resolve
from billing.db import Account, Alert, LedgerEntry
from billing.errors import NotFound
from billing.ledger import account_tariff, daily_volumes
from core.money import yuan
from core.tariffs import Tariff
from core.units import to_litres

MAX_DAYS = 366


@dataclass(frozen=True)
class WarningRules:
    """Thresholds (see billing.config.BillingSettings for the environment names)."""

    low_balance_yuan: Decimal = Decimal("20")
    days_left_warning: int = 7
    recent_days: int = 7

    @classmethod
    def from_settings(cls, s: Any) -> WarningRules:
        """The rules of a BillingSettings."""
        return cls(s.low_balance_yuan, s.days_left_warning, s.recent_days)


def days_left(
    balance: Decimal, tariff: Tariff, day: date, period_used_l: Decimal, daily_l: Decimal
) -> int | None:
    """Whole days the balance pays for from `day` at `daily_l` per day; None if it lasts a year or more."""
    if balance <= 0:
        return 0
    if daily_l <= 0:
        return None
    left, used, d = balance, period_used_l, day
    for n in range(MAX_DAYS):
        if tariff.period_start(d) == d and n > 0:
            used = Decimal(0)
        left -= tariff.charge(used, daily_l)
        if left < 0:
            return n
        used += daily_l
        d += timedelta(days=1)
    return None


def period_used(session: Session, account_id: int, tariff: Tariff, day: date) -> Decimal:
    """Litres charged in the billing period before `day` (the tier position)."""
    vols = daily_volumes(session, account_id, since=tariff.period_start(day))
    return sum((v for d, v in vols.items() if d < day), Decimal(0))


def recent_rate(session: Session, account_id: int, today: date, n_days: int) -> Decimal | None:
    """Mean litres per day over the last `n_days` charged days before `today` (None without any)."""
    vols = daily_volumes(session, account_id, since=today - timedelta(days=n_days))
    vals = [v for d, v in vols.items() if d < today]
    return to_litres(sum(vals, Decimal(0)) / len(vals)) if vals else None


@dataclass
class Evaluation:
    account_id: int
    balance: Decimal
    daily_l: Decimal | None
    days_left: int | None
    opened: list[Alert]
    resolved: list[Alert]


def evaluate(
    session: Session, account_id: int, now: datetime, rules: WarningRules, delivery: Delivery
) -> Evaluation:
    """Open or resolve this account's balance warnings; records `last_evaluated_at`."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    tariff = account_tariff(account)
    today = now.astimezone(tariff.zone).date()
    threshold = account.low_balance_yuan if account.low_balance_yuan is not None else rules.low_balance_yuan
    used = period_used(session, account_id, tariff, today)
    rate = recent_rate(session, account_id, today, rules.recent_days)
    left = days_left(account.balance, tariff, today, used, rate) if rate is not None else None
    opened: list[Alert] = []
    resolved: list[Alert] = []

    def toggle(on: bool, kind: str, title: str, details: dict) -> None:
        key = f"{kind}:{account_id}"
        if on:
            change = raise_alert(
                session,
                delivery,
                account_id=account_id,
                kind=kind,
                dedupe_key=key,
                title=title,
                details=details,
                now=now,
            )
            if change.created:
                opened.append(change.alert)
        else:
            gone = resolve(session, delivery, key, "condition cleared", now=now)
            if gone:
                resolved.append(gone)

    base = {
        "balance_yuan": str(account.balance),
        "threshold_yuan": str(threshold),
        "daily_l": str(rate) if rate is not None else None,
        "days_left": left,
    }
    toggle(
        account.balance < threshold,
        "balance_low",
        f"Balance {account.balance} yuan is below {threshold} yuan",
        base,
    )
    toggle(
        left is not None and left < rules.days_left_warning,
        "days_left",
        f"Balance lasts about {left} more days at current use",
        base,
    )

    for leak in _live_leaks(session, account_id):
        leak_l = to_litres(Decimal(str(leak.details.get("rate_lph", 0))) * 24)
        normal = rate if rate is not None else Decimal(0)
        cost_day = yuan(tariff.charge(used + normal, leak_l))
        with_leak = days_left(account.balance, tariff, today, used, normal + leak_l)
        without = days_left(account.balance, tariff, today, used, normal) if normal > 0 else None
        details = {
            "leak_alert_id": leak.id,
            "meter_id": leak.meter_id,
            "leak_rate_lph": leak.details.get("rate_lph"),
            "leak_l_per_day": str(leak_l),
            "leak_cost_yuan_per_day": str(cost_day),
            "days_left_with_leak": with_leak,
            "days_left_without_leak": without,
            **base,
        }
        title = (
            f"A leak on meter {leak.meter_id} costs about {cost_day} yuan/day: balance lasts "
            f"{_days(with_leak)} with the leak, {_days(without)} without"
        )
        change = raise_alert(
            session,
            delivery,
            account_id=account_id,
            kind="leak_cost",
            dedupe_key=f"leak_cost:{leak.id}",
            title=title,
            details=details,
            meter_id=leak.meter_id,
            now=now,
        )
        if change.created:
            opened.append(change.alert)
    for stale in session.scalars(
        select(Alert).where(
            Alert.account_id == account_id, Alert.kind == "leak_cost", Alert.state != "resolved"
        )
    ):
        source = session.get(Alert, stale.details.get("leak_alert_id"))
        if source is None or source.state == "resolved":
            done = resolve(session, delivery, stale.dedupe_key, "leak resolved", now=now)
            if done is not None:
                resolved.append(done)
    account.last_evaluated_at = now
    return Evaluation(account_id, account.balance, rate, left, opened, resolved)


def _days(n: int | None) -> str:
    return "over a year" if n is None else f"{n} days"


def _live_leaks(session: Session, account_id: int) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.account_id == account_id, Alert.kind == "leak", Alert.state != "resolved")
            .order_by(Alert.id)
        )
    )


def charged_days(session: Session, account_id: int) -> int:
    return len(
        {
            d
            for (d,) in session.execute(
                select(LedgerEntry.day)
                .where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge")
                .distinct()
            )
        }
    )
