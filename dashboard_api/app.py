"""The FastAPI application."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.routes import meters
from ingest.store import open_store


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the store is opened at startup from settings.store_url."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = open_store(settings.store_url)
        yield
        app.state.store.close()

    app = FastAPI(title="Water metering API", version="0.1.0", lifespan=lifespan,
                  description="Usage, meters and accounts. Every /v1 route needs `Authorization: Bearer <token>`.")
    app.dependency_overrides[get_settings] = lambda: settings
    app.include_router(meters.router)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
