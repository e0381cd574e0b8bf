"""HTTP routes for accounts, balances, ledger, payments, alerts, forecasts and reconciliation.

Mounted by dashboard_api; needs `app.state.billing_db` (a billing.db.Database). Residents see only
the accounts they bound (others answer 404, as if absent); utility tokens see all. Every write
happens in one transaction: a refused request changes nothing. Money is a decimal string.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import accounts as accounts_mod
from billing import alerts as alerts_mod
from billing import ledger, payments
from billing.access import accounts_for_resident, binding
from billing.db import Account, Database, LedgerEntry, ResidentAccount
from billing.errors import BillingError, NotFound
from billing.forecast import forecast_account
from dashboard_api.auth import AnyCaller, Principal, UtilityCaller

router = APIRouter(prefix="/v1", tags=["accounts"])
T = TypeVar("T")

AccountId = Annotated[int, Path(ge=1, le=2**31 - 1, description="account id (from the accounts list)")]
Amount = Annotated[
    str, Field(description='decimal yuan as a string, at most 2 places, e.g. "50.00"', max_length=20)
]


# ---------- models ----------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeterIn(Strict):
    meter_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    district: str | None = Field(None, max_length=100)
    building: str | None = Field(None, max_length=100)
    installed_at: datetime | None = None


class AccountCreate(Strict):
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    name: str = Field("", max_length=200)
    group: str | None = Field(None, max_length=100)
    meters: list[MeterIn] = Field(default_factory=list, max_length=50)


class BindIn(Strict):
    utility: str = Field(max_length=32, examples=["beijing"])
    account_number: str = Field(max_length=16, examples=["0123456789"])
    name: str = Field("", max_length=100, description="the resident's own name for it, e.g. 'Mum's flat'")
    group: str | None = Field(None, max_length=100)


class BindingPatch(Strict):
    name: str | None = Field(None, max_length=100)
    group: str | None = Field(None, max_length=100)


class AccountOut(BaseModel):
    id: int
    key: str
    utility: str
    account_number: str
    holder_name: str
    name: str = Field(description="the resident's name for the account (its number for operators)")
    group: str | None
    balance: str
    last_activity_at: datetime
    meters: list[str]


class AccountDetail(AccountOut):
    live_alerts: list[dict]


class LedgerOut(BaseModel):
    id: int
    kind: str
    amount: str
    balance_after: str
    meter_id: str | None
    day: str | None
    volume_l: str | None
    note: str
    created_at: datetime


class PaymentIn(Strict):
    provider: str = Field(min_length=1, max_length=32, examples=["alipay"])
    transaction_id: str = Field(min_length=1, max_length=64)
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    amount: Amount
    status: Literal["paid"] = "paid"
    paid_at: datetime | None = None


class PaymentOut(BaseModel):
    payment_id: int
    credited: bool = Field(description="true the first time; false for a repeated notification")
    account_id: int
    amount: str
    balance: str


class CorrectionIn(Strict):
    amount: Amount
    reason: str = Field(min_length=1, max_length=500)
    key: str | None = Field(None, max_length=100, description="idempotency key; retries with it post once")


class StatementLineIn(Strict):
    transaction_id: str = Field(min_length=1, max_length=64)
    utility: str = Field(max_length=32)
    account_number: str = Field(max_length=16)
    amount: Amount


class StatementIn(Strict):
    provider: str = Field(min_length=1, max_length=32)
    lines: list[StatementLineIn] = Field(max_length=100000)
    since: datetime | None = None
    until: datetime | None = None


# ---------- helpers ----------


def _db(request: Request) -> Database:
    db = getattr(request.app.state, "billing_db", None)
    if db is None:
        raise HTTPException(503, "accounts database not configured")
    return db


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] | None = getattr(request.app.state, "billing_clock", None)
    return clock() if clock else datetime.now(UTC)


@contextmanager
def _tx(request: Request) -> Iterator[Session]:
    """One transaction; domain errors become 4xx and roll everything back."""
    try:
        with _db(request).session() as session:
            yield session
    except BillingError as err:
        raise HTTPException(err.status, str(err)) from err


def _visible_account(
    session: Session, caller: Principal, account_id: int
) -> tuple[Account, ResidentAccount | None]:
    account = session.get(Account, account_id)
    bound = None
    if not caller.is_utility:
        bound = binding(session, caller.subject, account_id)
        if bound is None:
            account = None
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account, bound


def _resident_only(caller: Principal) -> str:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only residents bind accounts")
    return caller.subject


def _account_out(account: Account, bound: ResidentAccount | None, model: type[T] = AccountOut, **extra) -> T:
    return model(
        id=account.id,
        key=account.key,
        utility=account.utility,
        account_number=account.account_number,
        holder_name=account.name,
        name=bound.name if bound else account.account_number,
        group=bound.group if bound else account.group,
        balance=str(account.balance),
        last_activity_at=account.last_activity_at,
        meters=[m.meter_id for m in account.meters],
        **extra,
    )


def _ledger_out(e: LedgerEntry) -> LedgerOut:
    return LedgerOut(
        id=e.id,
        kind=e.kind,
        amount=str(e.amount),
        balance_after=str(e.balance_after),
        meter_id=e.meter_id,
        day=e.day.isoformat() if e.day else None,
        volume_l=str(e.volume_l) if e.volume_l is not None else None,
        note=e.note,
        created_at=e.created_at,
    )


# ---------- accounts ----------


@router.post("/accounts", status_code=201, response_model=AccountOut, summary="Create an account (utility)")
def create_account(body: AccountCreate, caller: UtilityCaller, request: Request) -> AccountOut:
    with _tx(request) as s:
        account = accounts_mod.create_account(
            s, body.utility, body.account_number, body.name, body.group, [m.model_dump() for m in body.meters]
        )
        s.refresh(account)
        return _account_out(account, None)


@router.get("/accounts", response_model=list[AccountOut], summary="Accounts, most recently active first")
def list_accounts(
    caller: AnyCaller,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AccountOut]:
    with _tx(request) as s:
        if caller.is_utility:
            rows = s.scalars(
                select(Account)
                .order_by(Account.last_activity_at.desc(), Account.id)
                .limit(limit)
                .offset(offset)
            )
            return [_account_out(a, None) for a in rows]
        return [
            _account_out(a, binding(s, caller.subject, a.id))
            for a in accounts_for_resident(s, caller.subject)[offset : offset + limit]
        ]


@router.post(
    "/accounts/bindings",
    status_code=201,
    response_model=AccountOut,
    summary="Bind an account by the utility's account number (residents, up to 15)",
)
def bind_account(body: BindIn, caller: AnyCaller, request: Request) -> AccountOut:
    resident = _resident_only(caller)
    with _tx(request) as s:
        row = accounts_mod.bind(s, resident, body.utility, body.account_number, body.name, body.group)
        return _account_out(row.account, row)


@router.patch("/accounts/{account_id}/binding", response_model=AccountOut, summary="Rename or regroup")
def patch_binding(
    account_id: AccountId, body: BindingPatch, caller: AnyCaller, request: Request
) -> AccountOut:
    resident = _resident_only(caller)
    with _tx(request) as s:
        row = accounts_mod.update_binding(
            s, resident, account_id, body.name, body.group, clear_group="group" in body.model_fields_set
        )
        return _account_out(row.account, row)


@router.delete("/accounts/{account_id}/binding", status_code=204, summary="Unbind an account")
def delete_binding(account_id: AccountId, caller: AnyCaller, request: Request) -> None:
    resident = _resident_only(caller)
    with _tx(request) as s:
        accounts_mod.unbind(s, resident, account_id)


@router.get("/accounts/{account_id}", response_model=AccountDetail, summary="Account with balance and alerts")
def get_account(account_id: AccountId, caller: AnyCaller, request: Request) -> AccountDetail:
    with _tx(request) as s:
        account, bound = _visible_account(s, caller, account_id)
        live = [alerts_mod.alert_json(a) for a in alerts_mod.list_alerts(s, [account.id], "live")]
        return _account_out(account, bound, AccountDetail, live_alerts=live)


@router.get(
    "/accounts/{account_id}/ledger", response_model=list[LedgerOut], summary="Balance changes, newest first"
)
def get_ledger(
    account_id: AccountId,
    caller: AnyCaller,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> list[LedgerOut]:
    with _tx(request) as s:
        _visible_account(s, caller, account_id)
        return [_ledger_out(e) for e in ledger.entries(s, account_id, limit, before_id)]


@router.post(
    "/accounts/{account_id}/corrections",
    status_code=201,
    response_model=LedgerOut,
    summary="Manual balance correction (utility)",
)
def post_correction(
    account_id: AccountId, body: CorrectionIn, caller: UtilityCaller, request: Request
) -> LedgerOut:
    with _tx(request) as s:
        _visible_account(s, caller, account_id)
        entry, _ = ledger.correction(
            s,
            account_id,
            body.amount,
            f"{caller.subject}: {body.reason}",
            body.key or secrets.token_hex(8),
            now=_now(request),
        )
        return _ledger_out(entry)


@router.get("/accounts/{account_id}/forecast", summary="This and next month's volume and cost")
def get_forecast(account_id: AccountId, caller: AnyCaller, request: Request) -> dict:
    with _tx(request) as s:
        account, _ = _visible_account(s, caller, account_id)
        return forecast_account(s, account, _now(request)).as_json()


# ---------- payments ----------


@router.post(
    "/payments/notifications",
    response_model=PaymentOut,
    summary="Payment provider's paid notification; repeats are credited once",
)
def payment_notification(body: PaymentIn, caller: UtilityCaller, request: Request) -> PaymentOut:
    with _tx(request) as s:
        payment, credited = payments.notify(
            s,
            body.provider,
            body.transaction_id,
            body.utility,
            body.account_number,
            body.amount,
            body.paid_at,
            now=_now(request),
        )
        account = s.get(Account, payment.account_id)
        return PaymentOut(
            payment_id=payment.id,
            credited=credited,
            account_id=account.id,
            amount=str(payment.amount),
            balance=str(account.balance),
        )


@router.get("/reconciliation", summary="Payments not credited and credits without payment (utility)")
def get_reconciliation(caller: UtilityCaller, request: Request, provider: str | None = None) -> dict:
    with _tx(request) as s:
        return _report_json(payments.reconcile(s, provider))


@router.post("/reconciliation", summary="Reconcile against the provider's settlement statement (utility)")
def post_reconciliation(body: StatementIn, caller: UtilityCaller, request: Request) -> dict:
    from billing.money import AmountError, parse_amount

    try:
        lines = [
            payments.StatementLine(ln.transaction_id, ln.utility, ln.account_number, parse_amount(ln.amount))
            for ln in body.lines
        ]
    except AmountError as err:
        raise HTTPException(422, str(err)) from err
    with _tx(request) as s:
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


# ---------- alerts ----------


@router.get("/alerts", summary="Alerts of the caller's accounts, newest first")
def get_alerts(
    caller: AnyCaller,
    request: Request,
    state: Annotated[Literal["open", "acknowledged", "resolved", "live"] | None, Query()] = None,
    account_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict]:
    with _tx(request) as s:
        if account_id is not None:
            _visible_account(s, caller, account_id)
            ids: list[int] | None = [account_id]
        elif caller.is_utility:
            ids = None
        else:
            ids = [a.id for a in accounts_for_resident(s, caller.subject)]
        return [alerts_mod.alert_json(a) for a in alerts_mod.list_alerts(s, ids, state, limit)]


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert")
def acknowledge_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: AnyCaller, request: Request
) -> dict:
    with _tx(request) as s:
        from billing.db import Alert

        alert = s.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        _visible_account(s, caller, alert.account_id)
        return alerts_mod.alert_json(alerts_mod.acknowledge(s, alert_id, caller.subject, _now(request)))


__all__ = ["router"]
