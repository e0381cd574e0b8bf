"""The holder's contact data the utility holds: phone on file (for SMS codes), ID-card last 4 (hashed)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from billing.db import Account, HolderContact, utcnow
from billing.errors import Invalid, NotFound
from billing.hashing import VerifyKey

# Mainland mobile numbers: 11 digits starting 13-19; "+86" or "86" in front is accepted and dropped.
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})$")
# The 18th character of a resident ID card is a check digit, 0-9 or X.
_ID_LAST4 = re.compile(r"^[0-9]{3}[0-9X]$")
ID_LAST4_PURPOSE = "id_last4"


def normalize_phone(phone: str) -> str:
    """The 11-digit mobile number; Invalid naming the format otherwise."""
    m = _PHONE.match(phone.replace(" ", "").replace("-", ""))
    if m is None:
        raise Invalid("phone must be a mainland mobile number: 11 digits starting 13-19, e.g. 13800138000")
    return m.group(1)


def normalize_id_last4(value: str) -> str:
    """The last 4 characters of an ID card, upper case; Invalid naming the format otherwise."""
    v = value.strip().upper()
    if _ID_LAST4.match(v) is None:
        raise Invalid("id_last4 must be the last 4 characters of the ID card: 3 digits, then a digit or X")
    return v


def mask_phone(phone: str | None) -> str | None:
    """138****8000: enough for a holder to recognise, not to call."""
    return None if not phone else f"{phone[:3]}****{phone[-4:]}"


def id_last4_digest(key: VerifyKey, account_id: int, id_last4: str) -> str:
    """The stored form of an account holder's ID-card last 4 (bound to the account)."""
    return key.digest(ID_LAST4_PURPOSE, str(account_id), normalize_id_last4(id_last4))


def set_contact(
    session: Session,
    key: VerifyKey,
    account_id: int,
    phone: str | None = None,
    id_last4: str | None = None,
    now: datetime | None = None,
) -> HolderContact:
    """Set (or replace) what the utility holds about the holder; None leaves a field unchanged."""
    if session.get(Account, account_id) is None:
        raise NotFound(f"no account {account_id}")
    row = session.get(HolderContact, account_id)
    if row is None:
        row = HolderContact(account_id=account_id)
        session.add(row)
    if phone is not None:
        row.phone = normalize_phone(phone)
    if id_last4 is not None:
        row.id_last4_hmac = id_last4_digest(key, account_id, id_last4)
    row.updated_at = now or utcnow()
    session.flush()
    return row


def contact_of(session: Session, account_id: int) -> HolderContact | None:
    """What the utility holds about the account's holder, or None."""
    return session.get(HolderContact, account_id)
