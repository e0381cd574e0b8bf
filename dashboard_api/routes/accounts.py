"""Accounts: create (utility), list, bind/unbind/rename (residents), detail, ledger, corrections, forecast.

Residents see only the accounts they bound (others answer 404, as if absent); utility tokens see all.
Every write happens in one transaction (deps.BillingTx): a refused request changes nothing. Money is
a decimal string.
"""

from __future__ import annotations

import secrets
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import accounts as accounts_mod
from billing import alerts as alerts_mod
from billing import ledger
from billing.access import accounts_for_resident, binding
from billing.db import Account, LedgerEntry, ResidentAccount
from billing.errors import NotFound
from billing.forecast import forecast_account
from dashboard_api.auth import AnyCaller, Principal, UtilityCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.schemas.billing import (
    AccountCreate,
    AccountDetail,
    AccountOut,
    BindIn,
    BindingPatch,
    CorrectionIn,
    LedgerOut,
)

router = APIRouter(prefix="/v1", tags=["accounts"])
T = TypeVar("T", bound=AccountOut)

AccountId = Annotated[int, Path(ge=1, le=2**31 - 1, description="account id (from the accounts list)")]


def visible_account(
    session: Session, caller: Principal, account_id: int
) -> tuple[Account, ResidentAccount | None]:
    """The account if the caller may see it (NotFound otherwise), with the resident's binding."""
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


def _account_out(account: Account, bound: ResidentAccount | None, model: type[T] = AccountOut, **extra) -> T:  # type: ignore[assignment]
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
def create_account(body: AccountCreate, caller: UtilityCaller, s: BillingTx) -> AccountOut:
    account = accounts_mod.create_account(
        s, body.utility, body.account_number, body.name, body.group, [m.model_dump() for m in body.meters]
    )
    s.refresh(account)
    return _account_out(account, None)


@router.get("/accounts", response_model=list[AccountOut], summary="Accounts, most recently active first")
def list_accounts(
    caller: AnyCaller,
    s: BillingTx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AccountOut]:
    if caller.is_utility:
        rows = s.scalars(
            select(Account).order_by(Account.last_activity_at.desc(), Account.id).limit(limit).offset(offset)
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
def bind_account(body: BindIn, caller: AnyCaller, s: BillingTx) -> AccountOut:
    resident = _resident_only(caller)
    row = accounts_mod.bind(s, resident, body.utility, body.account_number, body.name, body.group)
    return _account_out(row.account, row)


@router.patch("/accounts/{account_id}/binding", response_model=AccountOut, summary="Rename or regroup")
def patch_binding(account_id: AccountId, body: BindingPatch, caller: AnyCaller, s: BillingTx) -> AccountOut:
    resident = _resident_only(caller)
    row = accounts_mod.update_binding(
        s, resident, account_id, body.name, body.group, clear_group="group" in body.model_fields_set
    )
    return _account_out(row.account, row)


@router.delete("/accounts/{account_id}/binding", status_code=204, summary="Unbind an account")
def delete_binding(account_id: AccountId, caller: AnyCaller, s: BillingTx) -> None:
    resident = _resident_only(caller)
    accounts_mod.unbind(s, resident, account_id)


@router.get("/accounts/{account_id}", response_model=AccountDetail, summary="Account with balance and alerts")
def get_account(account_id: AccountId, caller: AnyCaller, s: BillingTx) -> AccountDetail:
    account, bound = visible_account(s, caller, account_id)
    live = [alerts_mod.alert_json(a) for a in alerts_mod.list_alerts(s, [account.id], "live")]
    return _account_out(account, bound, AccountDetail, live_alerts=live)


@router.get(
    "/accounts/{account_id}/ledger", response_model=list[LedgerOut], summary="Balance changes, newest first"
)
def get_ledger(
    account_id: AccountId,
    caller: AnyCaller,
    s: BillingTx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
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
