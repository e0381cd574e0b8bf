"""Alerts of the caller's accounts (operators: every alert, the utility's own included), acknowledging
one, and a resident's word on a leak alert or unusual-use notice ("that was me")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from billing import alerts as alerts_mod
from billing.access import Right, accounts_for_resident, authorize
from billing.alerts import Delivery
from billing.config import get_billing_settings
from billing.db import Alert
from billing.errors import NotFound
from billing.leak_alerts import record_feedback
from dashboard_api.auth import AnyCaller, Principal
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.routes.accounts import visible_account
from dashboard_api.schemas import AlertFull, FeedbackIn

router = APIRouter(prefix="/v1", tags=["accounts"])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_delivery() -> Delivery:
    """Where alert events go (WM_BILLING_*): the monitor's dispatcher delivers what the API writes."""
    return Delivery.from_settings(get_billing_settings())


DeliveryDep = Annotated[Delivery, Depends(get_delivery)]


def _held_alert(s, caller: Principal, alert_id: int) -> Alert:
    """The alert if the caller may act on it: operators on every one, residents as holders of its account.

    A stranger gets 404 (as for no alert), a view/pay delegate 403 (billing.access.authorize).
    """
    authorize(s, caller.who, alert_id=alert_id, need=Right.HOLD)
    alert = s.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


@router.get(
    "/alerts", response_model=list[AlertFull], summary="Alerts of the caller's accounts, newest first"
)
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


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertFull, summary="Acknowledge an alert")
def acknowledge_alert(alert_id: AlertId, caller: AnyCaller, s: BillingTx, clock: ClockDep) -> dict:
    _held_alert(s, caller, alert_id)
    return alerts_mod.alert_json(alerts_mod.acknowledge(s, alert_id, caller.subject, clock()))


@router.post(
    "/alerts/{alert_id}/feedback",
    response_model=AlertFull,
    summary="Say whether the water of a leak alert or unusual-use notice was yours",
    description='"mine" closes it and teaches the detector the pattern (a pool top-up, an irrigation '
    'schedule, guests); "not_mine" on an unusual-use notice opens a leak alert at once. '
    "One answer per alert.",
)
def alert_feedback(
    alert_id: AlertId,
    body: FeedbackIn,
    caller: AnyCaller,
    s: BillingTx,
    clock: ClockDep,
    delivery: DeliveryDep,
) -> dict:
    alert = _held_alert(s, caller, alert_id)
    record_feedback(s, delivery, alert, body.verdict, caller.subject, clock())
    return alerts_mod.alert_json(alert)
