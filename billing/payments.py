"""Payment notifications (credited exactly once per provider transaction) and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.accounts import find_account
from billing.db import LedgerEntry, Payment, utcnow
from billing.errors import Conflict, Invalid
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
