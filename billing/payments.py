"""Payments: provider notifications (credited exactly once per transaction), orders covering one or several
accounts through a payment-provider interface (with a development sink), and reconciliation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.accounts import find_account
from billing.db import Account, LedgerEntry, Payment, PaymentOrder, PaymentOrderLine, utcnow
from billing.errors import Conflict, Invalid, NotFound
from billing.ledger import lock_account, post
from core.money import AmountError, parse_amount


def _txn_key(provider: str, transaction_id: str) -> str:
    return f"topup:{provider}:{transaction_id}"


def notify(
    session: Session,
    provider: str,
    transaction_id: str,
    utility: str,
    account_number: str,
    amount: str | Decimal,
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Payment, bool]:
    """Record a paid notification and credit it; a repeat returns (payment, False) and credits nothing."""
    if not provider or not transaction_id or len(transaction_id) > 64 or len(provider) > 32:
        raise Invalid("provider (1-32 chars) and transaction_id (1-64 chars) are required")
    try:
        value = parse_amount(amount, positive=True)
    except AmountError as err:
        raise Invalid(str(err)) from err
    account = find_account(session, utility, account_number)
    now = now or utcnow()
    prior = session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.transaction_id == transaction_id)
    )
    if prior is not None:
        return _repeat(prior, account.id, value)
    account = lock_account(session, account.id)
    payment = Payment(
        provider=provider,
        transaction_id=transaction_id,
        account_id=account.id,
        amount=value,
        paid_at=paid_at or now,
        received_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent repeat of the same transaction id loses here
            session.add(payment)
            session.flush()
    except IntegrityError:
        prior = session.scalar(
            select(Payment).where(Payment.provider == provider, Payment.transaction_id == transaction_id)
        )
        if prior is None:
            raise
        return _repeat(prior, account.id, value)
    post(
        session,
        account,
        "topup",
        value,
        _txn_key(provider, transaction_id),
        payment_id=payment.id,
        note=f"{provider} {transaction_id}",
        now=now,
    )
    payment.credited_at = now
    return payment, True


def _repeat(prior: Payment, account_id: int, value: Decimal) -> tuple[Payment, bool]:
    if prior.account_id != account_id or prior.amount != value:
        raise Conflict(
            f"transaction {prior.transaction_id} was already notified with a different "
            f"account or amount ({prior.amount} yuan)"
        )
    prior.notifications += 1
    return prior, False


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of the provider's settlement statement: money the provider says it collected."""

    transaction_id: str
    utility: str
    account_number: str
    amount: Decimal


@dataclass
class Reconciliation:
    provider: str | None
    paid_not_credited: list[dict] = field(default_factory=list)
    credits_without_payment: list[dict] = field(default_factory=list)
    amount_mismatches: list[dict] = field(default_factory=list)
    matched: int = 0

    @property
    def clean(self) -> bool:
        return not (self.paid_not_credited or self.credits_without_payment or self.amount_mismatches)


def reconcile(
    session: Session,
    provider: str | None = None,
    statement: list[StatementLine] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Reconciliation:
    """Compare payments (and the provider's statement, if given) with top-up credits in the ledger."""
    report = Reconciliation(provider)
    pq = select(Payment)
    if provider:
        pq = pq.where(Payment.provider == provider)
    if since:
        pq = pq.where(Payment.paid_at >= since)
    if until:
        pq = pq.where(Payment.paid_at < until)
    payments = {(p.provider, p.transaction_id): p for p in session.scalars(pq)}
    credits = {e.key: e for e in session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "topup"))}
    credited_payment_ids = {e.payment_id for e in credits.values() if e.payment_id is not None}

    for (prov, txn), p in payments.items():
        entry = credits.get(_txn_key(prov, txn))
        if entry is None or p.id not in credited_payment_ids:
            report.paid_not_credited.append(
                {"provider": prov, "transaction_id": txn, "amount": str(p.amount), "source": "payments"}
            )
        elif entry.amount != p.amount:
            report.amount_mismatches.append(
                {
                    "provider": prov,
                    "transaction_id": txn,
                    "paid": str(p.amount),
                    "credited": str(entry.amount),
                }
            )
        else:
            report.matched += 1
    for line in statement or []:
        found = payments.get((provider or "", line.transaction_id))
        if found is None:
            report.paid_not_credited.append(
                {
                    "provider": provider,
                    "transaction_id": line.transaction_id,
                    "amount": str(line.amount),
                    "utility": line.utility,
                    "account_number": line.account_number,
                    "source": "statement",
                }
            )
        elif found.amount != line.amount:
            report.amount_mismatches.append(
                {
                    "provider": provider,
                    "transaction_id": line.transaction_id,
                    "paid": str(line.amount),
                    "credited": str(found.amount),
                }
            )
    statement_ids = {line.transaction_id for line in statement} if statement is not None else None
    for entry_key, e in credits.items():
        if since and e.created_at < since or until and e.created_at >= until:
            continue
        payment = session.get(Payment, e.payment_id) if e.payment_id is not None else None
        if payment is None:
            report.credits_without_payment.append(
                {"ledger_entry_id": e.id, "key": entry_key, "amount": str(e.amount)}
            )
        elif (
            statement_ids is not None
            and payment.provider == provider
            and payment.transaction_id not in statement_ids
        ):
            report.credits_without_payment.append(
                {
                    "ledger_entry_id": e.id,
                    "key": entry_key,
                    "amount": str(e.amount),
                    "transaction_id": payment.transaction_id,
                    "reason": "not in provider statement",
                }
            )
    return report


# -- payment orders: one payment for one or several accounts ----------------------------------------

MAX_ORDER_LINES = 15  # a resident binds at most 15 accounts
MAX_LINE_YUAN = Decimal("5000.00")


@dataclass(frozen=True, slots=True)
class Checkout:
    """What the payer is shown to pay an order: the provider, its reference and where to pay (if a page)."""

    provider: str
    reference: str
    pay_url: str | None = None


class PaymentProvider(Protocol):
    """A payment provider: opens a checkout for an order; its confirmations arrive through `settle_order`."""

    name: str

    def checkout(self, order_id: str, total: Decimal, description: str) -> Checkout:
        """Open a checkout for `total` yuan (nothing is credited until the provider confirms)."""
        ...

    def charge_agreement(self, order_id: str, total: Decimal, payer: str) -> str | None:
        """Charge the payer's standing agreement (automatic payment); the provider's txn id, or None."""
        ...


@dataclass
class DevProvider:
    """The development sink: records checkouts and pays them when asked (demo, tests). Never in production."""

    name: str = "dev"
    checkouts: list[tuple[str, Decimal]] = field(default_factory=list)
    agreements: list[tuple[str, Decimal, str]] = field(default_factory=list)

    def checkout(self, order_id: str, total: Decimal, description: str) -> Checkout:
        self.checkouts.append((order_id, total))
        return Checkout(self.name, order_id, None)

    def charge_agreement(self, order_id: str, total: Decimal, payer: str) -> str | None:
        self.agreements.append((order_id, total, payer))
        return f"dev-auto-{secrets.token_hex(8)}"

    def pay(self, order_id: str) -> str:
        """The payer paid: the provider's transaction id for the confirmation."""
        return f"dev-{secrets.token_hex(8)}"


def parse_lines(lines: list[tuple[int, str | Decimal]]) -> list[tuple[int, Decimal]]:
    """(account id, amount) pairs checked: 1-15 distinct accounts, each 0.01-5000.00 yuan."""
    if not 1 <= len(lines) <= MAX_ORDER_LINES:
        raise Invalid(f"a payment covers 1 to {MAX_ORDER_LINES} accounts")
    out: list[tuple[int, Decimal]] = []
    for account_id, amount in lines:
        try:
            value = parse_amount(amount, positive=True)
        except AmountError as err:
            raise Invalid(str(err)) from err
        if value > MAX_LINE_YUAN:
            raise Invalid(f"at most {MAX_LINE_YUAN} yuan per account in one payment")
        out.append((account_id, value))
    if len({a for a, _ in out}) != len(out):
        raise Invalid("each account appears once in a payment")
    return out


def create_order(
    session: Session,
    payer: str,
    provider: PaymentProvider,
    lines: list[tuple[int, str | Decimal]],
    origin: str = "app",
    now: datetime | None = None,
) -> tuple[PaymentOrder, Checkout]:
    """A pending order for the accounts' amounts and the provider's checkout; nothing is credited yet."""
    checked = parse_lines(lines)
    for account_id, _ in checked:
        if session.get(Account, account_id) is None:
            raise NotFound(f"no account {account_id}")
    now = now or utcnow()
    order = PaymentOrder(
        public_id=f"po_{secrets.token_urlsafe(12)}",
        payer=payer,
        origin=origin,
        provider=provider.name,
        status="pending",
        total=sum((v for _, v in checked), Decimal("0.00")),
        created_at=now,
    )
    order.lines = [PaymentOrderLine(account_id=a, amount=v) for a, v in checked]
    session.add(order)
    session.flush()
    keys = ", ".join(session.get(Account, a).key for a, _ in checked)  # type: ignore[union-attr]
    return order, provider.checkout(order.public_id, order.total, f"water: {keys}")


def find_order(session: Session, public_id: str) -> PaymentOrder:
    """The order with this public id (NotFound otherwise)."""
    order = session.scalar(select(PaymentOrder).where(PaymentOrder.public_id == public_id))
    if order is None:
        raise NotFound(f"no payment order {public_id}")
    return order


def settle_order(
    session: Session,
    provider: str,
    public_id: str,
    provider_txn: str,
    amount: str | Decimal,
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[PaymentOrder, bool]:
    """The provider confirmed payment of an order: credit every account's share once, in this transaction.

    A repeated confirmation (same provider and transaction) credits nothing and returns (order, False);
    a different amount, provider or transaction for a paid order is a Conflict.
    """
    if not provider_txn or len(provider_txn) > 60:
        raise Invalid("provider transaction id: 1-60 characters")
    try:
        value = parse_amount(amount, positive=True)
    except AmountError as err:
        raise Invalid(str(err)) from err
    order = session.scalar(
        select(PaymentOrder).where(PaymentOrder.public_id == public_id).with_for_update()
    )
    if order is None or order.provider != provider:
        raise NotFound(f"no {provider} payment order {public_id}")
    if value != order.total:
        raise Conflict(f"paid {value} yuan but the order is for {order.total} yuan")
    if order.status == "paid":
        if order.provider_txn == provider_txn:
            return order, False
        raise Conflict(f"order {public_id} was already paid by transaction {order.provider_txn}")
    if order.status != "pending":
        raise Conflict(f"order {public_id} is {order.status}")
    now = now or utcnow()
    for k, line in enumerate(order.lines):
        account = session.get(Account, line.account_id)
        if account is None:
            raise NotFound(f"no account {line.account_id}")
        payment, _ = notify(
            session,
            provider,
            f"{provider_txn}:{k}",
            account.utility,
            account.account_number,
            line.amount,
            paid_at or now,
            now=now,
        )
        line.payment_id = payment.id
    order.status = "paid"
    order.provider_txn = provider_txn
    order.paid_at = paid_at or now
    return order, True


def cancel_order(session: Session, public_id: str) -> PaymentOrder:
    """Cancel a pending order (a paid one cannot be)."""
    order = find_order(session, public_id)
    if order.status == "paid":
        raise Conflict(f"order {public_id} is already paid")
    order.status = "cancelled"
    return order


def last_payment_at(session: Session, account_ids: list[int]) -> dict[int, datetime]:
    """When each account last received a payment (accounts never paid are absent)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(Payment.account_id, func.max(Payment.paid_at))
        .where(Payment.account_id.in_(account_ids))
        .group_by(Payment.account_id)
    )
    return {a: t for a, t in rows if t is not None}
