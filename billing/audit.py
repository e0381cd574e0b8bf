"""The binding audit log: who requested, bound, unbound, failed, was locked out, granted or revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.db import AuditEvent

EVENTS = (
    "requested",  # a binding request (codes sent, or not: unknown accounts answer alike)
    "bound",  # verified and bound
    "failed",  # a wrong code, wrong ID-card digits, expired or unknown request, unknown account
    "locked",  # too many failures: the account number or the resident is locked out for a while
    "unbound",
    "granted",  # a delegation to another resident
    "revoked",
    "contact_set",  # an operator changed the holder's phone or ID-card digits
)


def record(
    session: Session,
    event: str,
    at: datetime,
    *,
    resident: str | None = None,
    subject_key: str | None = None,
    account_id: int | None = None,
    origin: str = "",
    detail: str = "",
) -> AuditEvent:
    """Add one event (in the caller's transaction)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    row = AuditEvent(
        at=at,
        event=event,
        resident_id=resident,
        subject_key=subject_key,
        account_id=account_id,
        origin=origin[:64],
        detail=detail[:300],
    )
    session.add(row)
    session.flush()
    return row


def count(
    session: Session,
    event: str,
    since: datetime,
    *,
    resident: str | None = None,
    subject_key: str | None = None,
    resident_scope: bool = False,
) -> int:
    """Events of a kind since a time, for a resident and/or an account number.

    resident_scope: only events without an account number (a resident-wide lock).
    """
    q = select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event, AuditEvent.at > since)
    if resident is not None:
        q = q.where(AuditEvent.resident_id == resident)
    if subject_key is not None:
        q = q.where(AuditEvent.subject_key == subject_key)
    if resident_scope:
        q = q.where(AuditEvent.subject_key.is_(None))
    return session.scalar(q) or 0


def latest(
    session: Session, event: str, *, resident: str | None = None, subject_key: str | None = None
) -> AuditEvent | None:
    """The newest event of a kind for a resident (resident-wide: no account number) or an account number."""
    q = select(AuditEvent).where(AuditEvent.event == event)
    if subject_key is not None:
        q = q.where(AuditEvent.subject_key == subject_key)
    else:
        q = q.where(AuditEvent.resident_id == resident, AuditEvent.subject_key.is_(None))
    return session.scalar(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))


def events(
    session: Session,
    *,
    account_id: int | None = None,
    resident: str | None = None,
    subject_key: str | None = None,
    event: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """Events, newest first, filtered; page with `before_id` (the last id of the previous page)."""
    q = select(AuditEvent)
    if account_id is not None:
        q = q.where(AuditEvent.account_id == account_id)
    if resident is not None:
        q = q.where(AuditEvent.resident_id == resident)
    if subject_key is not None:
        q = q.where(AuditEvent.subject_key == subject_key)
    if event is not None:
        q = q.where(AuditEvent.event == event)
    if before_id is not None:
        q = q.where(AuditEvent.id < before_id)
    return list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)))
