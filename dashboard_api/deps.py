"""Shared dependencies: settings, store, directory, and callers (dashboard_api.auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from dashboard_api.auth import AnyCaller, Principal, UtilityCaller
from dashboard_api.config import ApiSettings, get_settings
from dashboard_api.directory import Directory
from dashboard_api.flow import FlowSource
from dashboard_api.influxql import InfluxQL
from ingest.store.base import Store

# Dependencies that only read app.state are `async def`: FastAPI runs a plain `def` dependency in
# its thread pool, and each such hop cost milliseconds per request on a busy machine.


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_directory(request: Request) -> Directory:
    return request.app.state.directory


async def get_flows(request: Request) -> FlowSource:
    return request.app.state.flows


async def get_influxql(request: Request) -> InfluxQL | None:
    return request.app.state.influxql


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
DirectoryDep = Annotated[Directory, Depends(get_directory)]
FlowsDep = Annotated[FlowSource, Depends(get_flows)]
InfluxQLDep = Annotated[InfluxQL | None, Depends(get_influxql)]

NOT_FOUND_METER = "meter not found"


def check_meter_visible(caller: Principal, directory: Directory, meter_id: str) -> None:
    """404 when a resident asks for a meter not on one of their accounts.

    404 rather than 403, so a resident cannot probe which meter ids exist.
    """
    if not caller.is_utility and meter_id not in directory.meters_for_resident(caller.subject):
        raise HTTPException(404, NOT_FOUND_METER)


Caller = UtilityCaller  # routes that only operators may use
__all__ = [
    "AnyCaller",
    "Caller",
    "DirectoryDep",
    "FlowsDep",
    "SettingsDep",
    "StoreDep",
    "UtilityCaller",
    "check_meter_visible",
    "get_store",
]
