"""Delegation ("family payer"): a holder grants another resident view or pay rights on one account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.access import DELEGABLE, Right, Who, authorize, count_accessible, live_delegation, right_on
from billing.db import MAX_BINDINGS_PER_RESIDENT, Delegation, Resident
from billing.errors import Conflict, Invalid, NotFound


def grant(
    session: Session,
    grantor: str,
    account_id: int,
    grantee: str,
    rights: str,
    now: datetime,
    origin: str = "",
) -> Delegation:
    """Give `grantee` view or pay rights on the grantor's account; a second grant changes the rights.

    Only a holder may grant (NotFound/Denied otherwise, through access.authorize). The grantee must be a
    known resident (NotFound otherwise), not the grantor, not already a holder of it, and within the
    per-resident limit of accounts.
    """
    if rights not in DELEGABLE:
        raise Invalid(f"rights must be one of {sorted(DELEGABLE)}, got {rights!r}")
    authorize(session, Who(False, grantor), account_id=account_id, need=Right.HOLD)
    if grantee == grantor:
        raise Invalid("you cannot delegate an account to yourself")
    if session.get(Resident, grantee) is None:
        raise NotFound(f"no resident {grantee!r}")
    # Lock the grantee's row so two grants cannot both pass the limit check.
    session.scalar(select(Resident).where(Resident.id == grantee).with_for_update())
    if right_on(session, grantee, account_id) == Right.HOLD:
        raise Conflict(f"{grantee} already holds this account")
    row = live_delegation(session, grantee, account_id)
    if row is None:
        if count_accessible(session, grantee) >= MAX_BINDINGS_PER_RESIDENT:
            raise Conflict(f"{grantee} already has {MAX_BINDINGS_PER_RESIDENT} accounts, the most allowed")
        row = Delegation(account_id=account_id, grantor_id=grantor, grantee_id=grantee, rights=rights)
        row.granted_at = now
        session.add(row)
    else:
        row.rights = rights
    session.flush()
    audit.record(
        session,
        "granted",
        now,
        resident=grantor,
        account_id=account_id,
        origin=origin,
        detail=f"delegation {row.id}: {rights} to {grantee}",
    )
    return row


def revoke(
    session: Session, who: str, account_id: int, delegation_id: int, now: datetime, origin: str = ""
) -> Delegation:
    """End a delegation: any holder of the account may, and the grantee may give theirs up."""
    row = session.get(Delegation, delegation_id)
    if row is None or row.account_id != account_id or row.revoked_at is not None:
        raise NotFound(f"no delegation {delegation_id} on account {account_id}")
    if row.grantee_id != who:
        authorize(session, Who(False, who), account_id=account_id, need=Right.HOLD)
    row.revoked_at = now
    session.flush()
    audit.record(
        session,
        "revoked",
        now,
        resident=who,
        account_id=account_id,
        origin=origin,
        detail=f"delegation {row.id}: {row.rights} to {row.grantee_id}",
    )
    return row


def for_account(session: Session, account_id: int) -> list[Delegation]:
    """The account's live delegations, oldest first."""
    return list(
        session.scalars(
            select(Delegation)
            .where(Delegation.account_id == account_id, Delegation.revoked_at.is_(None))
            .order_by(Delegation.id)
        )
    )


def for_grantee(session: Session, grantee: str) -> list[Delegation]:
    """Live delegations a resident received, oldest first."""
    return list(
        session.scalars(
            select(Delegation)
            .where(Delegation.grantee_id == grantee, Delegation.revoked_at.is_(None))
            .order_by(Delegation.id)
        )
    )
