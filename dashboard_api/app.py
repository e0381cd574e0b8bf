"""The FastAPI application: usage, fleet, photos, accounts, payments, alerts, VEE and the dashboard page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from billing.config import get_billing_settings
from billing.db import Database
from billing.payments import DevProvider, PaymentProvider
from billing.tokens import make_token_lookup
from dashboard_api import errors
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.directory import Directory
from dashboard_api.photos import PhotoStore, RateLimiter
from dashboard_api.routes import (
    accounts,
    alerts,
    autopay,
    console,
    fleet,
    me,
    meters,
    notifications,
    payments,
    photos,
    resident,
    usage,
    vee,
)
from storage import meter_status
from storage.readings import open_store
from storage.readings.flows import InfluxFlows, StoreFlows
from storage.readings.influx import InfluxStore
from vee.config import VeeConfig, get_vee_settings
from vee.db import VeeDb

STATIC_DIR = Path(__file__).parent / "static"
_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}
COMMON_RESPONSES: dict = {401: {"description": "no or unknown bearer token", **_ERROR}}
# What the accounts and VEE routes answer besides their success codes, so the OpenAPI document lists them.
ERROR_RESPONSES: dict = {
    code: {"description": text, **_ERROR}
    for code, text in (
        (400, "bad request"),
        (401, "no or unknown bearer token"),
        (403, "utility operators only"),
        (404, "not found (or not yours)"),
        (409, "conflict"),
        (422, "invalid input"),
    )
}


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
        app.state.store = store
        app.state.influx = store.conn if isinstance(store, InfluxStore) else None
        app.state.flows = InfluxFlows(store.conn) if isinstance(store, InfluxStore) else StoreFlows(store)
        db = Database(settings.storage.sql_url)
        db.create_all()
        app.state.database = db
        app.state.directory = Directory(db)
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

    async def current_settings() -> ApiSettings:  # async: no thread-pool hop per request
        return settings

    app.dependency_overrides[get_settings] = current_settings
    for module in (meters, usage, fleet, photos, me):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    for module in (accounts, payments, alerts, vee, resident, autopay, notifications, console):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    return app
