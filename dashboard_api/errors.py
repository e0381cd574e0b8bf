"""Errors converted once: domain and storage errors to HTTP answers, for every route.

Domain errors carry no HTTP codes (core.errors); this is the one place that decides them. A backend
that does not answer is 503 with a fixed text: its own message (host names, queries) goes to the log,
never to the caller. Request validation errors are answered 422 even when the input held values JSON
cannot carry (NaN, Infinity): those are named as text.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import Conflict, Denied, DomainError, Invalid, NotFound, RateLimited, Unavailable
from storage.readings.base import StoreError

log = logging.getLogger("dashboard_api")

# Most specific first: the first class an error is an instance of decides.
STATUS: list[tuple[type[DomainError], int]] = [
    (Unavailable, 503),
    (NotFound, 404),
    (Denied, 403),
    (Conflict, 409),
    (RateLimited, 429),
    (Invalid, 422),
    (DomainError, 400),
]
UNAVAILABLE_DETAIL = {StoreError: "store unavailable"}
DATABASE_UNAVAILABLE = "database unavailable"


def status_of(err: DomainError) -> int:
    """The HTTP status of a domain error."""
    return next(code for kind, code in STATUS if isinstance(err, kind))


def detail_of(err: DomainError) -> str:
    """What the caller is told: the domain's message, or a fixed text for a backend outage."""
    if isinstance(err, Unavailable):
        return next(
            (d for kind, d in UNAVAILABLE_DETAIL.items() if isinstance(err, kind)), DATABASE_UNAVAILABLE
        )
    return str(err)


async def _domain_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, DomainError)
    status = status_of(err)
    if status == 503:
        log.warning("backend unavailable on %s %s: %s", request.method, request.url.path, err)
        return JSONResponse({"detail": detail_of(err)}, status_code=503, headers={"Retry-After": "5"})
    if isinstance(err, RateLimited):
        return JSONResponse(
            {"detail": detail_of(err)}, status_code=429, headers={"Retry-After": str(err.retry_after_s)}
        )
    return JSONResponse({"detail": detail_of(err)}, status_code=status)


def json_safe(value: Any) -> Any:
    """`value` with every float JSON cannot hold (NaN, ±Infinity) replaced by its name."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


async def _validation_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    return JSONResponse({"detail": json_safe(jsonable_encoder(err.errors()))}, status_code=422)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
