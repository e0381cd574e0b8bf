"""The FastAPI application: usage, fleet, photos, accounts (billing/) and the dashboard page."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from billing.auth import make_token_lookup
from billing.db import Database
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.directory import Directory
from dashboard_api.flow import InfluxFlows, StoreFlows
from dashboard_api.influxql import InfluxQL
from dashboard_api.photos import PhotoStore, RateLimiter
from dashboard_api.routes import accounts, fleet, me, meters, photos
from ingest.store import open_store
from vee.api import router as vee_router
from vee.config import VeeConfig
from vee.db import VeeDb

STATIC_DIR = Path(__file__).parent / "static"
_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}
COMMON_RESPONSES: dict = {401: {"description": "no or unknown bearer token", **_ERROR}}
# What billing's and vee's routes answer besides their success codes, so the OpenAPI document lists them.
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


def _billing_router():
    try:
        from billing.api import router
    except ImportError:  # billing's HTTP routes are optional: usage and fleet work without them
        return None
    return router


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the store and the accounts database are opened at startup from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = open_store(settings.store_url)
        app.state.influxql = InfluxQL.from_store_url(settings.store_url)
        app.state.flows = (
            InfluxFlows(app.state.influxql) if app.state.influxql else StoreFlows(app.state.store)
        )
        db = Database(settings.billing_db_url)
        db.create_all()
        app.state.billing_db = db
        app.state.directory = Directory(db)
        app.state.token_lookup = make_token_lookup(db)
        app.state.photos = PhotoStore(settings.photo_dir)
        app.state.photo_limiter = RateLimiter(settings.photo_uploads_per_hour)
        app.state.vee_db = VeeDb(settings.vee_db_url)
        app.state.vee_config = VeeConfig(tz=settings.default_tz)
        yield
        app.state.vee_db.close()
        app.state.store.close()
        if app.state.influxql:
            app.state.influxql.close()
        db.dispose()

    app = FastAPI(
        title="Water metering API",
        version="0.2.0",
        lifespan=lifespan,
        description="Usage, fleet, meter photos and accounts. Every /v1 route needs "
        "`Authorization: Bearer <token>`. The dashboard is at /dashboard/.",
    )

    async def current_settings() -> ApiSettings:  # async: no thread-pool hop per request
        return settings

    app.dependency_overrides[get_settings] = current_settings
    for module in (meters, accounts, fleet, photos, me):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    billing_router = _billing_router()
    if billing_router is not None:
        app.include_router(billing_router, responses=ERROR_RESPONSES)
    app.include_router(vee_router, responses=ERROR_RESPONSES)
    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    return app
