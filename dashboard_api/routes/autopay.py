"""Automatic payment settings of an account (residents with the account; operators read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from billing import autopay
from dashboard_api.auth import AnyCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.routes.accounts import visible_account
from dashboard_api.schemas.apps import AutopayIn, AutopayOut

router = APIRouter(prefix="/v1", tags=["resident app"])
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _out(s, account, caller_subject: str, now) -> AutopayOut:  # noqa: ANN001
    row = autopay.get_setting(s, account.id)
    spent = str(autopay.spent_this_month(s, account, now))
    if row is None:
        return AutopayOut(
            account_id=account.id,
            configured=False,
            enabled=False,
            below_yuan=None,
            amount_yuan=None,
            monthly_cap_yuan=None,
            paid_by_me=False,
            spent_this_month_yuan=spent,
        )
    return AutopayOut(
        account_id=account.id,
        configured=True,
        enabled=row.enabled,
        below_yuan=str(row.below_yuan),
        amount_yuan=str(row.amount_yuan),
        monthly_cap_yuan=str(row.monthly_cap_yuan),
        paid_by_me=row.resident_id == caller_subject,
        spent_this_month_yuan=spent,
    )


@router.get("/accounts/{account_id}/autopay", response_model=AutopayOut, summary="Automatic payment settings")
def get_autopay(account_id: AccountId, caller: AnyCaller, s: BillingTx, clock: ClockDep) -> AutopayOut:
    account, _ = visible_account(s, caller, account_id)
    return _out(s, account, caller.subject, clock())


@router.put(
    "/accounts/{account_id}/autopay",
    response_model=AutopayOut,
    summary="Top up by an amount when the balance falls below a level, within a monthly cap (residents)",
)
def put_autopay(
    account_id: AccountId, body: AutopayIn, caller: AnyCaller, s: BillingTx, clock: ClockDep
) -> AutopayOut:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the resident who pays sets automatic payment")
    account, _ = visible_account(s, caller, account_id)
    rule = autopay.check_rule(body.enabled, body.below_yuan, body.amount_yuan, body.monthly_cap_yuan)
    autopay.put_setting(s, caller.subject, account.id, rule)
    return _out(s, account, caller.subject, clock())
