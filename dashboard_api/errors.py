"""Errors converted once: domain and storage errors to HTTP answers, for every route.

Domain errors carry no HTTP codes (core.errors); this is the one place that decides them. A backend
that does not answer is 503 with a fixed text: its own message (host names, queries) goes to the log,
never to the caller.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from storage.readings.base import StoreError

log = logging.getLogger("dashboard_api")

# Most specific first: the first class an error is an instance of decides.
STATUS: list[tuple[type[DomainError], int]] = [
    (Unavailable, 503),
    (NotFound, 404),
    (Conflict, 409),
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
    return JSONResponse({"detail": detail_of(err)}, status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DomainError, _domain_error)
