"""Alerts of the caller's accounts, and acknowledging one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from billing import alerts as alerts_mod
from billing.access import Right, accounts_for_resident, authorize
from dashboard_api.auth import AnyCaller
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.routes.accounts import visible_account

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.get("/alerts", summary="Alerts of the caller's accounts, newest first")
def get_alerts(
    caller: AnyCaller,
    s: BillingTx,
    state: Annotated[Literal["open", "acknowledged", "resolved", "live"] | None, Query()] = None,
    account_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict]:
    if account_id is not None:
        visible_account(s, caller, account_id)
        ids: list[int] | None = [account_id]
    elif caller.is_utility:
        ids = None
    else:
        ids = [a.id for a in accounts_for_resident(s, caller.subject)]
    return [alerts_mod.alert_json(a) for a in alerts_mod.list_alerts(s, ids, state, limit)]


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert")
def acknowledge_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: AnyCaller, s: BillingTx, clock: ClockDep
) -> dict:
    # Holders only: a stranger gets 404 (as for no alert), a view/pay delegate 403.
    authorize(s, caller.who, alert_id=alert_id, need=Right.HOLD)
    return alerts_mod.alert_json(alerts_mod.acknowledge(s, alert_id, caller.subject, clock()))
