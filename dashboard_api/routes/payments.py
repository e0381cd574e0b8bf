"""Payments: the provider's paid notifications (credited once) and reconciliation against statements."""

from __future__ import annotations

from fastapi import APIRouter

from billing import payments
from billing.db import Account
from billing.errors import NotFound
from core.money import parse_amount
from dashboard_api.auth import UtilityCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.schemas.billing import PaymentIn, PaymentOut, StatementIn

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post(
    "/payments/notifications",
    response_model=PaymentOut,
    summary="Payment provider's paid notification; repeats are credited once",
)
def payment_notification(body: PaymentIn, caller: UtilityCaller, s: BillingTx, clock: ClockDep) -> PaymentOut:
    payment, credited = payments.notify(
        s,
        body.provider,
        body.transaction_id,
        body.utility,
        body.account_number,
        body.amount,
        body.paid_at,
        now=clock(),
    )
    account = s.get(Account, payment.account_id)
    if account is None:
        raise NotFound(f"no account {payment.account_id}")
    return PaymentOut(
        payment_id=payment.id,
        credited=credited,
        account_id=account.id,
        amount=str(payment.amount),
        balance=str(account.balance),
    )


@router.get("/reconciliation", summary="Payments not credited and credits without payment (utility)")
def get_reconciliation(caller: UtilityCaller, s: BillingTx, provider: str | None = None) -> dict:
    return _report_json(payments.reconcile(s, provider))


@router.post("/reconciliation", summary="Reconcile against the provider's settlement statement (utility)")
def post_reconciliation(body: StatementIn, caller: UtilityCaller, s: BillingTx) -> dict:
    lines = [
        payments.StatementLine(ln.transaction_id, ln.utility, ln.account_number, parse_amount(ln.amount))
        for ln in body.lines
    ]
    return _report_json(payments.reconcile(s, body.provider, lines, body.since, body.until))


def _report_json(r: payments.Reconciliation) -> dict:
    return {
        "provider": r.provider,
        "clean": r.clean,
        "matched": r.matched,
        "paid_not_credited": r.paid_not_credited,
        "credits_without_payment": r.credits_without_payment,
        "amount_mismatches": r.amount_mismatches,
    }
