"""The FastAPI application: usage, fleet, photos, accounts, payments, alerts, VEE and the dashboard page."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from billing.config import get_billing_settings
from billing.db import Database
from billing.payments import DevProvider, PaymentProvider
from billing.sms import DevSmsSink
from billing.tokens import make_token_lookup
from billing.verification import Policy
from dashboard_api import errors
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.directory import Directory
from dashboard_api.limits import BodyLimit
from dashboard_api.openapi_links import add_links
from dashboard_api.photos import PhotoStore, RateLimiter
from dashboard_api.routes import (
    accounts,
    alerts,
    audit,
    autopay,
    bindings,
    console,
    fleet,
    me,
    meters,
    notifications,
    payments,
    photos,
    registry,
    resident,
    usage,
    vee,
)
from registry import Registry
from storage import meter_status
from storage.readings import open_store
from storage.readings.flows import InfluxFlows, StoreFlows
from storage.readings.influx import InfluxStore
from vee.config import VeeConfig, get_vee_settings
from vee.db import VeeDb

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("dashboard_api")
_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}
COMMON_RESPONSES: dict = {
    code: {"description": text, **_ERROR}
    for code, text in (
        (400, "malformed request body"),
        (401, "no or unknown bearer token"),
        (413, "request body over the limit"),
    )
}
# What the accounts and VEE routes answer besides their success codes, so the OpenAPI document lists them.
ERROR_RESPONSES: dict = {
    code: {"description": text, **_ERROR}
    for code, text in (
        (400, "bad request"),
        (401, "no or unknown bearer token"),
        (403, "utility operators only"),
        (404, "not found (or not yours)"),
        (409, "conflict"),
        (413, "request body over the limit"),
        (422, "invalid input"),
        (429, "too many requests or failed attempts; see Retry-After"),
        (503, "database unavailable"),
    )
}
PHOTO_UPLOAD = re.compile(r"^/v1/meters/[^/]+/photos$")


def body_limit(settings: ApiSettings):  # noqa: ANN201 (a (method, path) -> bytes | None callable)
    """The request body limit of each route: photos limit themselves, statements may be larger."""

    def limit_of(method: str, path: str) -> int | None:
        if PHOTO_UPLOAD.match(path):
            return None  # routes/photos.py streams and limits the upload itself (photo_max_bytes)
        if path == "/v1/reconciliation":
            return settings.max_statement_bytes
        return settings.max_body_bytes

    return limit_of


def configured_provider() -> PaymentProvider | None:
    """The payment provider of the billing settings (WM_BILLING_PAYMENT_PROVIDER), or None."""
    return DevProvider() if get_billing_settings().payment_provider == "dev" else None


def create_app(
    settings: ApiSettings | None = None,
    vee_config: VeeConfig | None = None,
    payment_provider: PaymentProvider | None = None,
) -> FastAPI:
    """Build the app; the store and the utility's database are opened at startup from settings.

    `payment_provider` overrides WM_BILLING_PAYMENT_PROVIDER (tests and the demo pass the dev sink).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.storage.readings_url)
        app.state.settings = settings
        app.state.sms = DevSmsSink(settings.sms_sink_file)
        log.warning(
            "SMS gateway: the development sink (%s): binding codes are kept, not sent (docs/security.md)",
            settings.sms_sink_file or "memory",
        )
        app.state.verify_policy = Policy()
        app.state.store = store
        app.state.influx = store.conn if isinstance(store, InfluxStore) else None
        app.state.flows = InfluxFlows(store.conn) if isinstance(store, InfluxStore) else StoreFlows(store)
        db = Database(settings.storage.sql_url)
        db.create_all()
        app.state.database = db
        app.state.directory = Directory(db)
        app.state.registry = Registry(db)
        app.state.token_lookup = make_token_lookup(db)
        app.state.photos = PhotoStore(settings.photo_dir)
        app.state.photo_limiter = RateLimiter(settings.photo_uploads_per_hour)
        app.state.vee_db = VeeDb(db)
        app.state.vee_config = vee_config or get_vee_settings().config()
        meter_status.create_tables(db)
        app.state.payment_provider = payment_provider or configured_provider()
        yield
        store.close()
        db.dispose()

    app = FastAPI(
        title="Water metering API",
        version="0.2.0",
        lifespan=lifespan,
        description="Usage, fleet, meter photos, accounts and VEE. Every /v1 route needs "
        "`Authorization: Bearer <token>`. The dashboard is at /dashboard/.",
    )
    errors.install(app)
    app.add_middleware(BodyLimit, limit_of=body_limit(settings))

    async def current_settings() -> ApiSettings:  # async: no thread-pool hop per request
        return settings

    app.dependency_overrides[get_settings] = current_settings
    for module in (meters, usage, fleet, photos, me):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    for module in (
        accounts,
        bindings,
        audit,
        payments,
        alerts,
        vee,
        registry,
        resident,
        autopay,
        notifications,
        console,
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    plain_openapi = app.openapi

    def openapi_with_links() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi_with_links  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    return app
