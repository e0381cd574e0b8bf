"""Who may see what: a resident's accounts and meters, meters by account or location, open alerts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import Account, Alert, Meter, ResidentAccount


def meters_for_resident(session: Session, resident_id: str) -> set[str]:
    """Meter ids of every account the resident has bound."""
    rows = session.scalars(
        select(Meter.meter_id)
        .join(ResidentAccount, ResidentAccount.account_id == Meter.account_id)
        .where(ResidentAccount.resident_id == resident_id)
    )
    return set(rows)


def accounts_for_resident(session: Session, resident_id: str) -> list[Account]:
    """The resident's bound accounts, most recently active first."""
    return list(
        session.scalars(
            select(Account)
            .join(ResidentAccount, ResidentAccount.account_id == Account.id)
            .where(ResidentAccount.resident_id == resident_id)
            .order_by(Account.last_activity_at.desc(), Account.id)
        )
    )


def binding(session: Session, resident_id: str, account_id: int) -> ResidentAccount | None:
    """The resident's binding of the account, or None."""
    return session.scalar(
        select(ResidentAccount).where(
            ResidentAccount.resident_id == resident_id, ResidentAccount.account_id == account_id
        )
    )


def resident_owns_account(session: Session, resident_id: str, account_id: int) -> bool:
    return binding(session, resident_id, account_id) is not None


def meters_for_account(session: Session, account_id: int) -> list[str]:
    """Meter ids of one account, sorted."""
    return list(
        session.scalars(select(Meter.meter_id).where(Meter.account_id == account_id).order_by(Meter.meter_id))
    )


def meters_in_group(session: Session, district: str | None, building: str | None) -> list[str]:
    """Meter ids in a district and/or building (None matches any), sorted."""
    q = select(Meter.meter_id)
    if district is not None:
        q = q.where(Meter.district == district)
    if building is not None:
        q = q.where(Meter.building == building)
    return list(session.scalars(q.order_by(Meter.meter_id)))


def account_for_meter(session: Session, meter_id: str) -> Account | None:
    meter = session.get(Meter, meter_id)
    return meter.account if meter else None


def open_alerts(session: Session) -> list[Alert]:
    """Alerts not yet resolved (open or acknowledged), newest first."""
    return list(
        session.scalars(
            select(Alert).where(Alert.state != "resolved").order_by(Alert.opened_at.desc(), Alert.id.desc())
        )
    )
