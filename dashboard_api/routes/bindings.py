"""Verified binding (request, then verify), rename and unbind, and delegation to family members.

1. `POST /v1/accounts/bindings` {utility, account_number}: 202 with a request id and what the utility
   asks for (sms and/or id_last4). A code goes by SMS to the holder's phone on file when the utility
   verifies by SMS. The answer is the same for an account number that does not exist.
2. `POST /v1/accounts/bindings/{request_id}/verify` {sms_code and/or id_last4, name, group}: 201 with
   the bound account; one 400 for every failure; 429 with Retry-After when locked out.
Then the holder may rename, unbind and delegate. billing.verification and billing.delegation decide;
these routes only translate.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from billing import accounts as accounts_mod
from billing import delegation, verification
from billing.access import Right, binding
from billing.db import Account, Delegation
from billing.sms import SmsGateway, SmsMessage
from dashboard_api.auth import AnyCaller, Principal
from dashboard_api.deps import (
    BillingTx,
    ClockDep,
    DatabaseDep,
    PolicyDep,
    SmsDep,
    VerifyKeyDep,
    authorized_account,
    origin_of,
)
from dashboard_api.routes.accounts import MAX_ID, AccountId, account_out
from dashboard_api.schemas.billing import (
    AccountOut,
    BindIn,
    BindingPatch,
    BindingRequestOut,
    DelegationIn,
    DelegationOut,
    VerifyIn,
)

router = APIRouter(prefix="/v1", tags=["bindings"])
log = logging.getLogger("dashboard_api")

RequestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{24}$", description="from the binding request")]
DelegationId = Annotated[int, Path(ge=1, le=MAX_ID)]
FIELDS = {"sms": "sms_code", "id_last4": "id_last4"}
VERIFY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "verification failed (the same answer for every reason)"},
    429: {"description": "locked out after too many failures, or too many requests; see Retry-After"},
}


def _resident_only(caller: Principal) -> str:
    if caller.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only residents bind accounts")
    return caller.subject


def _send(gateway: SmsGateway, message: SmsMessage) -> None:
    try:
        gateway.send(message)
    except Exception:  # after the answer: a gateway failure must not reach the caller or show existence
        log.exception("SMS gateway failed; the resident can ask for a new code")


@router.post(
    "/accounts/bindings",
    status_code=202,
    response_model=BindingRequestOut,
    responses=VERIFY_ERRORS,
    summary="Start binding an account: the utility's verification (residents)",
)
def request_binding(
    body: BindIn,
    caller: AnyCaller,
    request: Request,
    db: DatabaseDep,
    background: BackgroundTasks,
    key: VerifyKeyDep,
    sms: SmsDep,
    policy: PolicyDep,
    clock: ClockDep,
) -> BindingRequestOut:
    resident = _resident_only(caller)
    # Verification opens its own transactions: a failure is counted and audited, then refused.
    challenge = verification.request_binding(
        db,
        key,
        resident,
        body.utility,
        body.account_number,
        clock(),
        policy,
        origin_of(request),
    )
    if challenge.sms is not None:
        # Sent after the answer, so an account with a phone on file answers as fast as one without.
        background.add_task(_send, sms, challenge.sms)
    return BindingRequestOut(
        request_id=challenge.request_id,
        methods=list(challenge.methods),  # type: ignore[arg-type]
        expires_at=challenge.expires_at,
        verify_fields=[FIELDS[m] for m in challenge.methods],  # type: ignore[misc]
    )


@router.post(
    "/accounts/bindings/{request_id}/verify",
    status_code=201,
    response_model=AccountOut,
    responses=VERIFY_ERRORS,
    summary="Finish binding: the SMS code and/or ID-card digits (residents)",
)
def verify_binding(
    request_id: RequestId,
    body: VerifyIn,
    caller: AnyCaller,
    request: Request,
    db: DatabaseDep,
    key: VerifyKeyDep,
    policy: PolicyDep,
    clock: ClockDep,
) -> AccountOut:
    resident = _resident_only(caller)
    account_id = verification.verify_binding(
        db,
        key,
        resident,
        request_id,
        clock(),
        sms_code=body.sms_code,
        id_last4=body.id_last4,
        name=body.name,
        group=body.group,
        policy=policy,
        origin=origin_of(request),
    )
    with db.session() as s:
        account = s.get(Account, account_id)
        assert account is not None
        return account_out(account, binding(s, resident, account_id), "holder")


@router.patch("/accounts/{account_id}/binding", response_model=AccountOut, summary="Rename or regroup")
def patch_binding(account_id: AccountId, body: BindingPatch, caller: AnyCaller, s: BillingTx) -> AccountOut:
    resident = _resident_only(caller)
    authorized_account(s, caller, account_id, Right.HOLD)
    row = accounts_mod.update_binding(
        s, resident, account_id, body.name, body.group, clear_group="group" in body.model_fields_set
    )
    return account_out(row.account, row, "holder")


@router.delete("/accounts/{account_id}/binding", status_code=204, summary="Unbind an account")
def delete_binding(
    account_id: AccountId, caller: AnyCaller, s: BillingTx, request: Request, clock: ClockDep
) -> None:
    resident = _resident_only(caller)
    authorized_account(s, caller, account_id, Right.HOLD)
    accounts_mod.unbind(s, resident, account_id, clock(), origin_of(request))


def _delegation_out(d: Delegation) -> DelegationOut:
    return DelegationOut(
        id=d.id,
        account_id=d.account_id,
        grantor=d.grantor_id,
        resident=d.grantee_id,
        rights=d.rights,  # type: ignore[arg-type]
        granted_at=d.granted_at,
    )


def _visible_delegations(s: Session, caller: Principal, account_id: int) -> list[Delegation]:
    authorized_account(s, caller, account_id)
    rows = delegation.for_account(s, account_id)
    if caller.is_utility or binding(s, caller.subject, account_id) is not None:
        return rows
    return [d for d in rows if d.grantee_id == caller.subject]  # a delegate sees only their own


@router.get(
    "/accounts/{account_id}/delegations",
    response_model=list[DelegationOut],
    summary="Who else may see or pay this account (a delegate sees only their own)",
)
def list_delegations(account_id: AccountId, caller: AnyCaller, s: BillingTx) -> list[DelegationOut]:
    return [_delegation_out(d) for d in _visible_delegations(s, caller, account_id)]


@router.post(
    "/accounts/{account_id}/delegations",
    status_code=201,
    response_model=DelegationOut,
    summary="Give another resident view or pay rights (holders); again to change the rights",
)
def grant_delegation(
    account_id: AccountId,
    body: DelegationIn,
    caller: AnyCaller,
    s: BillingTx,
    request: Request,
    clock: ClockDep,
) -> DelegationOut:
    resident = _resident_only(caller)
    row = delegation.grant(s, resident, account_id, body.resident, body.rights, clock(), origin_of(request))
    return _delegation_out(row)


@router.delete(
    "/accounts/{account_id}/delegations/{delegation_id}",
    status_code=204,
    summary="End a delegation (a holder, or the delegate giving it up)",
)
def revoke_delegation(
    account_id: AccountId,
    delegation_id: DelegationId,
    caller: AnyCaller,
    s: BillingTx,
    request: Request,
    clock: ClockDep,
) -> None:
    resident = _resident_only(caller)
    authorized_account(s, caller, account_id)  # 404 for strangers before anything else is said
    delegation.revoke(s, resident, account_id, delegation_id, clock(), origin_of(request))
