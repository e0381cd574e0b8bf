"""Billing's domain errors: the core kinds (dashboard_api/errors.py maps each kind to HTTP once)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, Invalid, NotFound

BillingError = DomainError  # the base every billing refusal derives from

__all__ = ["BillingError", "Conflict", "Invalid", "NotFound"]
