"""Automatic payment: top an account up by a set amount when its balance falls below a set level.

Each top-up is a payment order (origin "autopay") charged to the payer's standing agreement with the
provider and credited once through `payments.settle_order`, like any other payment. A monthly cap (local
month of the account's utility) bounds what automatic payment may spend on one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.db import Account, AutopaySetting, PaymentOrder, PaymentOrderLine, utcnow
from billing.errors import Invalid
from billing.ledger import account_tariff
from billing.payments import PaymentProvider, create_order, settle_order
from core.money import AmountError, parse_amount

BELOW_MAX = Decimal("1000.00")
AMOUNT_MIN, AMOUNT_MAX = Decimal("10.00"), Decimal("2000.00")
CAP_MAX = Decimal("10000.00")


@dataclass(frozen=True, slots=True)
class AutopayRule:
    """Validated settings of one account."""

    enabled: bool
    below_yuan: Decimal
    amount_yuan: Decimal
    monthly_cap_yuan: Decimal


def check_rule(enabled: bool, below: str | Decimal, amount: str | Decimal, cap: str | Decimal) -> AutopayRule:
    """The rule if its amounts are in range (Invalid naming the limit otherwise)."""
    try:
        below_v = parse_amount(below, positive=False)
        amount_v = parse_amount(amount, positive=True)
        cap_v = parse_amount(cap, positive=True)
    except AmountError as err:
        raise Invalid(str(err)) from err
    if not Decimal(0) <= below_v <= BELOW_MAX:
        raise Invalid(f"the level that starts a top-up is 0 to {BELOW_MAX} yuan")
    if not AMOUNT_MIN <= amount_v <= AMOUNT_MAX:
        raise Invalid(f"an automatic top-up is {AMOUNT_MIN} to {AMOUNT_MAX} yuan")
    if not amount_v <= cap_v <= CAP_MAX:
        raise Invalid(f"the monthly cap is at least one top-up and at most {CAP_MAX} yuan")
    return AutopayRule(enabled, below_v, amount_v, cap_v)


def get_setting(session: Session, account_id: int) -> AutopaySetting | None:
    """The account's automatic payment, or None when never set."""
    return session.get(AutopaySetting, account_id)


def put_setting(session: Session, resident_id: str, account_id: int, rule: AutopayRule) -> AutopaySetting:
    """Set (or replace) the account's automatic payment, paid by `resident_id`."""
    row = session.get(AutopaySetting, account_id)
    if row is None:
        row = AutopaySetting(account_id=account_id)
        session.add(row)
    row.resident_id = resident_id
    row.enabled = rule.enabled
    row.below_yuan = rule.below_yuan
    row.amount_yuan = rule.amount_yuan
    row.monthly_cap_yuan = rule.monthly_cap_yuan
    row.updated_at = utcnow()
    session.flush()
    return row


def spent_this_month(session: Session, account: Account, now: datetime) -> Decimal:
    """What automatic payment paid into the account this local month (the utility's zone)."""
    local = now.astimezone(account_tariff(account).zone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(PaymentOrderLine.amount), 0))
        .join(PaymentOrder, PaymentOrder.id == PaymentOrderLine.order_id)
        .where(
            PaymentOrderLine.account_id == account.id,
            PaymentOrder.origin == "autopay",
            PaymentOrder.status == "paid",
            PaymentOrder.paid_at >= month_start,
        )
    )
    return Decimal(total or 0)


def run(session: Session, provider: PaymentProvider, now: datetime | None = None) -> list[PaymentOrder]:
    """Top up every account whose balance is below its level, within its monthly cap; the paid orders."""
    now = now or utcnow()
    paid: list[PaymentOrder] = []
    rows = session.scalars(select(AutopaySetting).where(AutopaySetting.enabled.is_(True)))
    for row in list(rows):
        account = session.get(Account, row.account_id)
        if account is None or account.balance >= row.below_yuan:
            continue
        if spent_this_month(session, account, now) + row.amount_yuan > row.monthly_cap_yuan:
            continue
        order, _ = create_order(
            session, row.resident_id, provider, [(account.id, row.amount_yuan)], "autopay", now
        )
        txn = provider.charge_agreement(order.public_id, order.total, row.resident_id)
        if txn is None:
            order.status = "cancelled"
            continue
        settled, _ = settle_order(session, provider.name, order.public_id, txn, order.total, now=now)
        paid.append(settled)
    return paid
