"""Bearer tokens and roles: what a token is, never where it is kept (billing.tokens keeps them)."""

from __future__ import annotations

import hashlib
from typing import Literal

Role = Literal["utility", "resident"]
ROLES: tuple[Role, ...] = ("resident", "utility")


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a bearer token (what is stored and compared)."""
    return hashlib.sha256(token.encode()).hexdigest()
