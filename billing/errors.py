"""Billing's domain errors: the core kinds (dashboard_api/errors.py maps each kind to HTTP once)."""

from __future__ import annotations

from core.errors import Conflict, Denied, DomainError, Invalid, NotFound, RateLimited

BillingError = DomainError  # the base every billing refusal derives from


class VerificationFailed(DomainError):
    """A binding was not verified: one answer for a wrong code, an unknown account or an expired request."""


__all__ = [
    "BillingError",
    "Conflict",
    "Denied",
    "Invalid",
    "NotFound",
    "RateLimited",
    "VerificationFailed",
]
