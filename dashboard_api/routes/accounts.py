"""Accounts: create and edit (utility), list, detail, ledger, corrections, forecast.

Residents see the accounts they hold (bound with verification: routes/bindings.py) or were delegated;
every object-level check goes through billing.access.authorize (deps.authorized_account): another
resident's account answers 404, as if absent; utility tokens see all. Every write happens in one
transaction (deps.BillingTx): a refused request changes nothing. Money is a decimal string.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import accounts as accounts_mod
from billing import alerts as alerts_mod
from billing import audit, holders, ledger
from billing.access import RIGHT_NAMES, Right, accessible, binding, right_on
from billing.db import Account, LedgerEntry, ResidentAccount
from billing.forecast import forecast_account
from billing.hashing import VerifyKey
from dashboard_api.auth import AnyCaller, Principal, UtilityCaller
from dashboard_api.deps import BillingTx, ClockDep, VerifyKeyDep, authorized_account, origin_of
from dashboard_api.schemas.billing import (
    AccountCreate,
    AccountDetail,
    AccountOut,
    AccountPatch,
    CorrectionIn,
    LedgerOut,
)

router = APIRouter(prefix="/v1", tags=["accounts"])
T = TypeVar("T", bound=AccountOut)

MAX_ID = 2**31 - 1  # ids are 32-bit in every database we run on
MAX_OFFSET = 100_000
AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="account id (from the accounts list)")]


def visible_account(
    session: Session, caller: Principal, account_id: int, need: Right = Right.VIEW
) -> tuple[Account, ResidentAccount | None]:
    """The account if the caller has `need` on it (404/403 otherwise), with a holder's binding."""
    account = authorized_account(session, caller, account_id, need)
    return account, None if caller.is_utility else binding(session, caller.subject, account_id)


Access = Literal["operator", "holder", "pay", "view"]


def _access(session: Session, caller: Principal, account: Account) -> Access:
    if caller.is_utility:
        return "operator"
    right = right_on(session, caller.subject, account.id)
    return RIGHT_NAMES[right] if right is not None else "view"


def account_out(
    account: Account,
    bound: ResidentAccount | None,
    access: Access,
    model: type[T] = AccountOut,  # type: ignore[assignment]
    **extra,
) -> T:
    """An account as the caller sees it (a holder's own name and group for it)."""
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
        access=access,
        **extra,
    )


def ledger_out(e: LedgerEntry) -> LedgerOut:
    """A ledger entry as the API shows it."""
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


@router.post("/accounts", status_code=201, response_model=AccountOut, summary="Create an account (utility)")
def create_account(
    body: AccountCreate,
    caller: UtilityCaller,
    s: BillingTx,
    key: VerifyKeyDep,
    request: Request,
    clock: ClockDep,
) -> AccountOut:
    account = accounts_mod.create_account(
        s, body.utility, body.account_number, body.name, body.group, [m.model_dump() for m in body.meters]
    )
    _set_contact(s, key, account, body.holder_phone, body.holder_id_last4, caller, request, clock)
    s.refresh(account)
    return account_out(account, None, "operator")


def _set_contact(
    s: Session,
    key: VerifyKey,
    account: Account,
    phone: str | None,
    id_last4: str | None,
    caller: Principal,
    request: Request,
    clock: Callable[[], datetime],
) -> None:
    if phone is None and id_last4 is None:
        return
    holders.set_contact(s, key, account.id, phone, id_last4, now=clock())
    changed = ", ".join(n for n, v in (("phone", phone), ("id_last4", id_last4)) if v is not None)
    audit.record(
        s,
        "contact_set",
        clock(),
        resident=None,
        account_id=account.id,
        origin=origin_of(request),
        detail=f"{caller.subject} set the holder's {changed}",
    )


@router.patch(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="Change the holder's name, phone on file or ID-card digits (utility)",
)
def patch_account(
    account_id: AccountId,
    body: AccountPatch,
    caller: UtilityCaller,
    s: BillingTx,
    key: VerifyKeyDep,
    request: Request,
    clock: ClockDep,
) -> AccountOut:
    account = authorized_account(s, caller, account_id)
    if body.name is not None:
        account.name = body.name
    _set_contact(s, key, account, body.holder_phone, body.holder_id_last4, caller, request, clock)
    return account_out(account, None, "operator")


@router.get("/accounts", response_model=list[AccountOut], summary="Accounts, most recently active first")
def list_accounts(
    caller: AnyCaller,
    s: BillingTx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[AccountOut]:
    if caller.is_utility:
        rows = s.scalars(
            select(Account).order_by(Account.last_activity_at.desc(), Account.id).limit(limit).offset(offset)
        )
        return [account_out(a, None, "operator") for a in rows]
    return [
        account_out(a.account, a.binding, RIGHT_NAMES[a.right])
        for a in accessible(s, caller.subject)[offset : offset + limit]
    ]


@router.get("/accounts/{account_id}", response_model=AccountDetail, summary="Account with balance and alerts")
def get_account(account_id: AccountId, caller: AnyCaller, s: BillingTx) -> AccountDetail:
    account, bound = visible_account(s, caller, account_id)
    live = [alerts_mod.alert_json(a) for a in alerts_mod.list_alerts(s, [account.id], "live")]
    return account_out(account, bound, _access(s, caller, account), AccountDetail, live_alerts=live)


@router.get(
    "/accounts/{account_id}/ledger", response_model=list[LedgerOut], summary="Balance changes, newest first"
)
def get_ledger(
    account_id: AccountId,
    caller: AnyCaller,
    s: BillingTx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[LedgerOut]:
    visible_account(s, caller, account_id)
    return [ledger_out(e) for e in ledger.entries(s, account_id, limit, before_id)]


@router.post(
    "/accounts/{account_id}/corrections",
    status_code=201,
    response_model=LedgerOut,
    summary="Manual balance correction (utility)",
)
def post_correction(
    account_id: AccountId, body: CorrectionIn, caller: UtilityCaller, s: BillingTx, clock: ClockDep
) -> LedgerOut:
    visible_account(s, caller, account_id)
    entry, _ = ledger.correction(
        s,
        account_id,
        body.amount,
        f"{caller.subject}: {body.reason}",
        body.key or secrets.token_hex(8),
        now=clock(),
    )
    return ledger_out(entry)


@router.get("/accounts/{account_id}/forecast", summary="This and next month's volume and cost")
def get_forecast(account_id: AccountId, caller: AnyCaller, s: BillingTx, clock: ClockDep) -> dict:
    account, _ = visible_account(s, caller, account_id)
    return forecast_account(s, account, clock()).as_json()
