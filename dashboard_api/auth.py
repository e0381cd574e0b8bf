"""Who is calling: utility operators see everything, residents only their own accounts.

Tokens are bearer tokens, kept only as SHA-256 hashes. Utility operator tokens come from
settings (WM_API_TOKENS); other tokens are resolved by `app.state.token_lookup`, a callable
hash -> (role, subject) | None over the accounts database (billing.tokens.make_token_lookup).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from billing.access import Who
from core.auth import Role, hash_token
from dashboard_api.config import ApiSettings, get_settings

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    role: Role
    subject: str  # operator name or resident id
    token_hash: str

    @property
    def is_utility(self) -> bool:
        """Whether the caller is a utility operator."""
        return self.role == "utility"

    @property
    def who(self) -> Who:
        """The caller as billing's authorization sees it."""
        return Who(self.is_utility, self.subject)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


async def get_principal(
    request: Request,
    settings: Annotated[ApiSettings, Depends(get_settings)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; 401 when the Authorization header is missing or the token unknown."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    digest = hash_token(creds.credentials)
    for known in settings.token_hashes:
        if hmac.compare_digest(digest, known):
            return Principal("utility", "operator", digest)
    lookup = getattr(request.app.state, "token_lookup", None)
    # Operator tokens are checked above without leaving the event loop; the accounts lookup
    # may touch a database, so it runs in the thread pool.
    found = await run_in_threadpool(lookup, digest) if lookup else None
    if found is None:
        raise _unauthorized("invalid token")
    role, subject = found
    return Principal(role, subject, digest)


async def require_utility(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """403 unless the caller is a utility operator."""
    if not principal.is_utility:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "utility operators only")
    return principal


AnyCaller = Annotated[Principal, Depends(get_principal)]
UtilityCaller = Annotated[Principal, Depends(require_utility)]
