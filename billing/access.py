"""Who may see and do what: one authorization function for every object a resident can name.

A resident holds an account after binding it with verification (billing.verification); a holder may
grant another resident view or pay rights on it (billing.delegation). Rights are ordered:
view < pay < hold. Every object-level check of the API — account, meter, alert, ledger, photo,
forecast — goes through `authorize`: an object the caller has no right on is NotFound, the same
answer as for one that does not exist, so ids cannot be probed; an object they see but may not act
on (a view-only delegate acknowledging an alert) is Denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.db import Account, Alert, Delegation, Meter, ResidentAccount
from billing.errors import Denied, NotFound


class Right(IntEnum):
    """What a resident may do with an account; each includes the ones below it."""

    VIEW = 1  # balance, usage, ledger, alerts, forecast, photo results
    PAY = 2  # and top up
    HOLD = 3  # and bind/unbind, rename, delegate, upload photos, confirm readings, acknowledge alerts


AccessName = Literal["view", "pay", "holder"]
RIGHT_NAMES: dict[Right, AccessName] = {Right.VIEW: "view", Right.PAY: "pay", Right.HOLD: "holder"}
DELEGABLE = {"view": Right.VIEW, "pay": Right.PAY}


@dataclass(frozen=True, slots=True)
class Who:
    """The caller as billing sees it: a utility operator, or a resident by id."""

    operator: bool
    resident: str


def binding(session: Session, resident_id: str, account_id: int) -> ResidentAccount | None:
    """The resident's (verified) binding of the account, or None."""
    return session.scalar(
        select(ResidentAccount).where(
            ResidentAccount.resident_id == resident_id, ResidentAccount.account_id == account_id
        )
    )


def live_delegation(session: Session, grantee_id: str, account_id: int) -> Delegation | None:
    """The unrevoked delegation of the account to the resident, or None."""
    return session.scalar(
        select(Delegation).where(
            Delegation.grantee_id == grantee_id,
            Delegation.account_id == account_id,
            Delegation.revoked_at.is_(None),
        )
    )


def right_on(session: Session, resident_id: str, account_id: int) -> Right | None:
    """The resident's right on the account: HOLD when bound, the delegated right, or None."""
    if binding(session, resident_id, account_id) is not None:
        return Right.HOLD
    d = live_delegation(session, resident_id, account_id)
    return None if d is None else DELEGABLE[d.rights]


def _account_id_of(
    session: Session, account_id: int | None, meter_id: str | None, alert_id: int | None
) -> tuple[str, bool, int | None]:
    """(what was named, for messages; whether it exists; its account id, None when it has none)."""
    if account_id is not None:
        found = session.get(Account, account_id) is not None
        return f"account {account_id}", found, account_id if found else None
    if meter_id is not None:
        meter = session.get(Meter, meter_id)
        # The readings store may know meters billing does not: they exist for operators.
        return f"meter {meter_id}", True, meter.account_id if meter else None
    if alert_id is not None:
        alert = session.get(Alert, alert_id)
        return f"alert {alert_id}", alert is not None, alert.account_id if alert else None
    raise ValueError("name an account, a meter or an alert")


def authorize(
    session: Session,
    who: Who,
    *,
    account_id: int | None = None,
    meter_id: str | None = None,
    alert_id: int | None = None,
    need: Right = Right.VIEW,
) -> Account | None:
    """The account behind the named object if the caller has `need` on it.

    NotFound when it does not exist or the caller has no right on it (the same answer); Denied when
    the caller sees it but has a lesser right. Operators may do anything to anything that exists; for
    them an object on no account (a meter only the readings store knows, a utility's own alert) is None.
    """
    what, exists, acct = _account_id_of(session, account_id, meter_id, alert_id)
    if who.operator:
        if not exists:
            raise NotFound(f"no {what}")
        return None if acct is None else session.get(Account, acct)
    right = None if acct is None else right_on(session, who.resident, acct)
    if right is None or acct is None:
        raise NotFound(f"no {what}")
    if right < need:
        raise Denied(f"your access to {what} is {RIGHT_NAMES[right]} only; this needs {RIGHT_NAMES[need]}")
    return session.get(Account, acct)


@dataclass(frozen=True, slots=True)
class Access:
    """An account a resident can see, with their right on it and, for holders, their binding."""

    account: Account
    right: Right
    binding: ResidentAccount | None


def accessible(session: Session, resident_id: str) -> list[Access]:
    """Accounts the resident holds or was delegated, most recently active first."""
    held = session.execute(
        select(Account, ResidentAccount)
        .join(ResidentAccount, ResidentAccount.account_id == Account.id)
        .where(ResidentAccount.resident_id == resident_id)
    ).all()
    out = [Access(a, Right.HOLD, b) for a, b in held]
    seen = {a.id for a, _b in held}
    delegated = session.execute(
        select(Account, Delegation)
        .join(Delegation, Delegation.account_id == Account.id)
        .where(Delegation.grantee_id == resident_id, Delegation.revoked_at.is_(None))
    ).all()
    out += [Access(a, DELEGABLE[d.rights], None) for a, d in delegated if a.id not in seen]
    out.sort(key=lambda x: (-x.account.last_activity_at.timestamp(), x.account.id))
    return out


def count_accessible(session: Session, resident_id: str) -> int:
    """Bindings plus live delegations received (the per-resident limit counts both)."""
    bound = session.scalar(
        select(func.count()).select_from(ResidentAccount).where(ResidentAccount.resident_id == resident_id)
    )
    delegated = session.scalar(
        select(func.count())
        .select_from(Delegation)
        .where(Delegation.grantee_id == resident_id, Delegation.revoked_at.is_(None))
    )
    return (bound or 0) + (delegated or 0)


def accounts_for_resident(session: Session, resident_id: str) -> list[Account]:
    """The accounts the resident may see (held or delegated), most recently active first."""
    return [a.account for a in accessible(session, resident_id)]


def meters_for_resident(session: Session, resident_id: str) -> set[str]:
    """Meter ids of every account the resident may see."""
    ids = [a.account.id for a in accessible(session, resident_id)]
    if not ids:
        return set()
    return set(session.scalars(select(Meter.meter_id).where(Meter.account_id.in_(ids))))


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
    """The account a meter feeds, or None."""
    meter = session.get(Meter, meter_id)
    return meter.account if meter else None


def open_alerts(session: Session) -> list[Alert]:
    """Alerts not yet resolved (open or acknowledged), newest first."""
    return list(
        session.scalars(
            select(Alert).where(Alert.state != "resolved").order_by(Alert.opened_at.desc(), Alert.id.desc())
        )
    )
