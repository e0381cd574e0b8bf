"""The binding audit log for operators: who bound, unbound, failed, was locked out, granted, revoked."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from billing import audit
from billing.verification import subject_key
from core.errors import Invalid
from dashboard_api.auth import UtilityCaller
from dashboard_api.deps import BillingTx
from dashboard_api.routes.accounts import MAX_ID
from dashboard_api.schemas.billing import AuditOut

router = APIRouter(prefix="/v1", tags=["bindings"])

Event = Literal["requested", "bound", "failed", "locked", "unbound", "granted", "revoked", "contact_set"]


@router.get(
    "/audit/bindings",
    response_model=list[AuditOut],
    summary="Binding audit events, newest first (utility); page with before_id",
)
def binding_audit(
    _caller: UtilityCaller,
    s: BillingTx,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    resident: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    utility: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    account_number: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
    event: Event | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[AuditOut]:
    if (utility is None) != (account_number is None):
        raise Invalid("give utility and account_number together")
    key = subject_key(utility, account_number) if utility and account_number else None
    rows = audit.events(
        s,
        account_id=account_id,
        resident=resident,
        subject_key=key,
        event=event,
        limit=limit,
        before_id=before_id,
    )
    return [
        AuditOut(
            id=e.id,
            at=e.at,
            event=e.event,
            resident=e.resident_id,
            subject=e.subject_key,
            account_id=e.account_id,
            origin=e.origin,
            detail=e.detail,
        )
        for e in rows
    ]
