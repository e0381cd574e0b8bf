"""Payments: the provider's paid notifications (credited once), reconciliation against statements, and
payment orders from the resident app (one or several accounts in one payment)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from billing import payments
from billing.db import Account, PaymentOrder
from billing.errors import NotFound
from billing.payments import DevProvider, PaymentProvider
from core.errors import DomainError
from core.money import parse_amount
from dashboard_api.auth import AnyCaller, Principal, UtilityCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.routes.accounts import visible_account
from dashboard_api.schemas.apps import OrderIn, OrderLineOut, OrderOut
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


# -- payment orders from the resident app ----------------------------------------------------------


async def get_provider(request: Request) -> PaymentProvider | None:
    """The configured payment provider (WM_BILLING_PAYMENT_PROVIDER), or None."""
    return getattr(request.app.state, "payment_provider", None)


ProviderDep = Annotated[PaymentProvider | None, Depends(get_provider)]
OrderId = Annotated[str, Path(pattern=r"^po_[A-Za-z0-9_-]{8,32}$")]


def _order_out(order: PaymentOrder, pay_url: str | None = None) -> OrderOut:
    return OrderOut(
        order_id=order.public_id,
        status=order.status,  # type: ignore[arg-type]
        origin=order.origin,  # type: ignore[arg-type]
        provider=order.provider,
        total=str(order.total),
        created_at=order.created_at,
        paid_at=order.paid_at,
        lines=[
            OrderLineOut(account_id=ln.account_id, amount=str(ln.amount), credited=ln.payment_id is not None)
            for ln in order.lines
        ],
        pay_url=pay_url,
    )


def _own_order(s: Session, caller: Principal, order_id: str) -> PaymentOrder:
    order = payments.find_order(s, order_id)
    if not caller.is_utility and order.payer != caller.subject:
        raise NotFound(f"no payment order {order_id}")
    return order


@router.post(
    "/payments/orders",
    status_code=201,
    response_model=OrderOut,
    summary="Pay one or several accounts in one payment (residents): a pending order and its checkout",
)
def create_order(
    body: OrderIn, caller: AnyCaller, s: BillingTx, clock: ClockDep, provider: ProviderDep
) -> OrderOut:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "residents pay from the app")
    if provider is None:
        raise DomainError("payments are not configured on this server")
    for line in body.lines:
        visible_account(s, caller, line.account_id)
    order, checkout = payments.create_order(
        s, caller.subject, provider, [(ln.account_id, ln.amount) for ln in body.lines], now=clock()
    )
    return _order_out(order, checkout.pay_url)


@router.get("/payments/orders/{order_id}", response_model=OrderOut, summary="A payment order and its status")
def get_order(order_id: OrderId, caller: AnyCaller, s: BillingTx) -> OrderOut:
    return _order_out(_own_order(s, caller, order_id))


@router.post(
    "/payments/orders/{order_id}/dev-pay",
    response_model=OrderOut,
    summary="Development sink only: pay the order as the provider would confirm it (credited once)",
)
def dev_pay(
    order_id: OrderId, caller: AnyCaller, s: BillingTx, clock: ClockDep, provider: ProviderDep
) -> OrderOut:
    if not isinstance(provider, DevProvider):
        raise NotFound("the development payment sink is not enabled")
    order = _own_order(s, caller, order_id)
    if order.status == "paid":
        return _order_out(order)
    txn = provider.pay(order.public_id)
    settled, _ = payments.settle_order(s, provider.name, order.public_id, txn, order.total, now=clock())
    return _order_out(settled)


@router.post("/payments/orders/{order_id}/cancel", response_model=OrderOut, summary="Cancel a pending order")
def cancel_order(order_id: OrderId, caller: AnyCaller, s: BillingTx) -> OrderOut:
    _own_order(s, caller, order_id)
    return _order_out(payments.cancel_order(s, order_id))
