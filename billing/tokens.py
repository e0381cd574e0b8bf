"""Bearer tokens for residents and operators, stored only as SHA-256 hashes (core.auth.hash_token)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy.orm import Session

from billing.db import ApiToken, Database, Resident
from billing.errors import Invalid
from core.auth import ROLES, Role, hash_token


def issue_token(session: Session, role: str, subject: str) -> str:
    """Create a token for `subject`; returns the plain token (only its hash is stored)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {ROLES}, got {role!r}")
    if not subject or len(subject) > 64:
        raise Invalid("subject must be 1-64 characters")
    if role == "resident" and session.get(Resident, subject) is None:
        session.add(Resident(id=subject))
        session.flush()
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), role=role, subject=subject))
    session.flush()
    return token


def make_token_lookup(db: Database) -> Callable[[str], tuple[Role, str] | None]:
    """A callable token-hash -> (role, subject) | None over the accounts database (revoked: None)."""

    def lookup(token_hash: str) -> tuple[Role, str] | None:
        with db.session() as session:
            row = session.get(ApiToken, token_hash)
            if row is None or row.revoked_at is not None or row.role not in ROLES:
                return None
            role: Role = "utility" if row.role == "utility" else "resident"
            return role, row.subject

    return lookup
