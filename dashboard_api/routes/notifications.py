"""A resident's in-app notifications (made from their accounts' alerts and payments; read marks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from billing import notifications
from billing.config import get_billing_settings
from billing.db import Account
from billing.ledger import account_tariff
from core.timezones import DEFAULT_TZ
from dashboard_api.auth import AnyCaller, Principal
from dashboard_api.deps import BillingTx, ClockDep
from dashboard_api.schemas.apps import NotificationOut, NotificationsOut, ReadIn

router = APIRouter(prefix="/v1", tags=["resident app"])


def _resident(caller: Principal) -> str:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "residents only")
    return caller.subject


@router.get("/notifications", response_model=NotificationsOut, summary="My notifications, newest first")
def get_notifications(
    caller: AnyCaller,
    s: BillingTx,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unread_only: bool = False,
) -> NotificationsOut:
    resident = _resident(caller)
    notifications.sweep(s, resident, clock(), get_billing_settings().notify_webhook or None)
    items = notifications.listing(s, resident, limit, unread_only)
    zones: dict[int | None, str] = {None: DEFAULT_TZ}
    for n in items:
        if n.account_id not in zones:
            account = s.get(Account, n.account_id)
            zones[n.account_id] = account_tariff(account).zone_name if account else DEFAULT_TZ
    return NotificationsOut(
        unread=notifications.unread_count(s, resident),
        items=[
            NotificationOut(
                id=n.id,
                kind=n.kind,  # type: ignore[arg-type]
                account_id=n.account_id,
                params=n.params,
                created_at=n.created_at,
                read=n.read_at is not None,
                tz=zones[n.account_id],
            )
            for n in items
        ],
    )


@router.post("/notifications/read", summary="Mark notifications read (all when no ids are given)")
def read_notifications(body: ReadIn, caller: AnyCaller, s: BillingTx, clock: ClockDep) -> dict[str, int]:
    return {"marked": notifications.mark_read(s, _resident(caller), body.ids, clock())}
