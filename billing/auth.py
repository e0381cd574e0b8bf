"""Bearer tokens for residents and operators, stored as SHA-256 hashes, resolved for dashboard_api."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy.orm import Session

from billing.db import ApiToken, Database, Resident
from dashboard_api.auth import Principal
from dashboard_api.config import hash_token

ROLES = ("resident", "utility")


def issue_token(session: Session, role: str, subject: str) -> str:
    """Create a token for `subject`; returns the plain token (only its hash is stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if not subject or len(subject) > 64:
        raise ValueError("subject must be 1-64 characters")
    if role == "resident" and session.get(Resident, subject) is None:
        session.add(Resident(id=subject))
        session.flush()
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), role=role, subject=subject))
    session.flush()
    return token


def make_token_lookup(db: Database) -> Callable[[str], Principal | None]:
    """A callable token-hash -> Principal | None for `app.state.token_lookup`."""

    def lookup(token_hash: str) -> Principal | None:
        with db.session() as session:
            row = session.get(ApiToken, token_hash)
            if row is None or row.revoked_at is not None:
                return None
            return Principal(row.role, row.subject, token_hash)  # type: ignore[arg-type]

    return lookup
