"""Shared dependencies: settings, store, and callers (dashboard_api.auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dashboard_api.auth import AnyCaller, UtilityCaller
from dashboard_api.config import ApiSettings, get_settings
from ingest.store.base import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


Caller = UtilityCaller  # routes that only operators may use
__all__ = ["AnyCaller", "Caller", "SettingsDep", "StoreDep", "UtilityCaller", "get_store"]
