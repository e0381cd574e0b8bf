"""Domain errors: what went wrong, never how to say it over HTTP (dashboard_api/errors.py maps them)."""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request the domain refuses; nothing was changed."""


class Invalid(DomainError, ValueError):
    """Input that breaks a domain rule (a bad id, amount, zone, range...)."""


class NotFound(DomainError, LookupError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class Conflict(DomainError):
    """The request contradicts the current state (a duplicate, a second binding...)."""


class Denied(DomainError):
    """The caller may see the thing but not do this to it (a view-only delegate paying, say)."""


class RateLimited(DomainError):
    """Too many attempts or requests; allowed again after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class Unavailable(DomainError):
    """A backend (readings store, database) did not answer; retrying later may work.

    Its message may name the backend's own error: interfaces must not show it to callers.
    """
