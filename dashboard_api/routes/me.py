"""The caller: a resident's accounts (with balances), meters and open alerts."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from dashboard_api.deps import AnyCaller, DirectoryDep
from dashboard_api.schemas import AccountSummaryOut, AlertOut, MeOut

router = APIRouter(prefix="/v1", tags=["me"])


@router.get(
    "/me",
    response_model=MeOut,
    summary="Who I am; for residents their accounts, meters and alerts",
    responses={401: {"description": "no or unknown token"}},
)
def me(caller: AnyCaller, directory: DirectoryDep) -> MeOut:
    if caller.is_utility:
        return MeOut(role="utility", subject=caller.subject, accounts=[], meters=[], alerts=[])
    accounts = directory.accounts_for_resident(caller.subject)
    ids = {a.account_id for a in accounts}
    return MeOut(
        role="resident",
        subject=caller.subject,
        accounts=[AccountSummaryOut(**asdict(a)) for a in accounts],
        meters=sorted({m for a in accounts for m in a.meters}),
        alerts=[AlertOut(**asdict(a)) for a in directory.open_alerts(ids)],
    )
