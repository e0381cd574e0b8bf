"""Accounts and residents' bindings: validated account numbers, at most 15 accounts per resident.

`bind` is the trusted step after verification (billing.verification) or for seeding; residents reach
it only through a verified binding request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import audit
from billing.access import count_accessible, live_delegation
from billing.db import (
    MAX_BINDINGS_PER_RESIDENT,
    Account,
    Delegation,
    Meter,
    Resident,
    ResidentAccount,
    utcnow,
)
from billing.errors import Conflict, NotFound
from core.tariffs import tariff_for


def validate_number(utility: str, account_number: str) -> str:
    """The account number if valid for the utility; Invalid (UnknownUtility, BadAccountNumber) otherwise."""
    return tariff_for(utility).validate_account_number(account_number)


def create_account(
    session: Session,
    utility: str,
    account_number: str,
    name: str = "",
    group: str | None = None,
    meters: list[dict] | None = None,
) -> Account:
    """A new account (utility side) with its meters; Conflict if the number or a meter exists."""
    validate_number(utility, account_number)
    if session.scalar(
        select(Account).where(Account.utility == utility, Account.account_number == account_number)
    ):
        raise Conflict(f"account {utility} {account_number} already exists")
    account = Account(utility=utility, account_number=account_number, name=name, group=group)
    session.add(account)
    session.flush()
    for m in meters or []:
        add_meter(session, account, **m)
    return account


def add_meter(
    session: Session,
    account: Account,
    meter_id: str,
    district: str | None = None,
    building: str | None = None,
    installed_at: datetime | None = None,
) -> Meter:
    if session.get(Meter, meter_id) is not None:
        raise Conflict(f"meter {meter_id} already belongs to an account")
    meter = Meter(
        meter_id=meter_id,
        account_id=account.id,
        district=district,
        building=building,
        installed_at=installed_at or utcnow(),
    )
    session.add(meter)
    session.flush()
    return meter


def find_account(session: Session, utility: str, account_number: str) -> Account:
    validate_number(utility, account_number)
    account = session.scalar(
        select(Account).where(Account.utility == utility, Account.account_number == account_number)
    )
    if account is None:
        raise NotFound(f"no {utility} account {account_number}")
    return account


def bind(
    session: Session,
    resident_id: str,
    utility: str,
    account_number: str,
    name: str = "",
    group: str | None = None,
) -> ResidentAccount:
    """Bind an account to a resident (by the utility's account number), up to 15 accounts per resident.

    Only after the resident proved the account is theirs (billing.verification), or when seeding.
    """
    account = find_account(session, utility, account_number)
    if session.get(Resident, resident_id) is None:
        session.add(Resident(id=resident_id))
        session.flush()
    existing = session.scalar(
        select(ResidentAccount).where(
            ResidentAccount.resident_id == resident_id, ResidentAccount.account_id == account.id
        )
    )
    if existing is not None:
        raise Conflict(f"account {utility} {account_number} is already bound")
    # Lock the resident's row so two concurrent binds cannot both pass the limit check.
    session.scalar(select(Resident).where(Resident.id == resident_id).with_for_update())
    delegated = live_delegation(session, resident_id, account.id)
    if delegated is not None:  # verified as a holder now: the binding supersedes the delegation
        delegated.revoked_at = utcnow()
        session.flush()
    if count_accessible(session, resident_id) >= MAX_BINDINGS_PER_RESIDENT:
        raise Conflict(f"at most {MAX_BINDINGS_PER_RESIDENT} accounts can be bound; unbind one first")
    row = ResidentAccount(
        resident_id=resident_id, account_id=account.id, name=name or account.account_number, group=group
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:
        raise Conflict(f"account {utility} {account_number} is already bound") from err
    return row


def update_binding(
    session: Session,
    resident_id: str,
    account_id: int,
    name: str | None,
    group: str | None,
    clear_group: bool = False,
) -> ResidentAccount:
    row = session.scalar(
        select(ResidentAccount).where(
            ResidentAccount.resident_id == resident_id, ResidentAccount.account_id == account_id
        )
    )
    if row is None:
        raise NotFound(f"account {account_id} is not bound")
    if name is not None:
        row.name = name
    if group is not None or clear_group:
        row.group = group
    return row


def unbind(
    session: Session, resident_id: str, account_id: int, now: datetime | None = None, origin: str = ""
) -> None:
    """Remove the resident's binding; the delegations they granted on the account end with it."""
    now = now or utcnow()
    row = session.scalar(
        select(ResidentAccount).where(
            ResidentAccount.resident_id == resident_id, ResidentAccount.account_id == account_id
        )
    )
    if row is None:
        raise NotFound(f"account {account_id} is not bound")
    session.delete(row)
    grants = session.scalars(
        select(Delegation).where(
            Delegation.account_id == account_id,
            Delegation.grantor_id == resident_id,
            Delegation.revoked_at.is_(None),
        )
    )
    for d in grants:
        d.revoked_at = now
        audit.record(
            session,
            "revoked",
            now,
            resident=resident_id,
            account_id=account_id,
            origin=origin,
            detail=f"delegation {d.id} to {d.grantee_id} ended: the grantor unbound the account",
        )
    audit.record(session, "unbound", now, resident=resident_id, account_id=account_id, origin=origin)
    session.flush()
