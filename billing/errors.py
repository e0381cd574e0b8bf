"""Domain errors, mapped to HTTP status codes once in billing.api."""

from __future__ import annotations


class BillingError(Exception):
    """Base: a request the domain refuses; nothing was changed."""

    status = 400


class NotFound(BillingError):
    status = 404


class Invalid(BillingError):
    status = 422


class Conflict(BillingError):
    status = 409
