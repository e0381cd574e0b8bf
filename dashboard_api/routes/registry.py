"""The meter registry (operators only): which meters exist, their lifecycle and its events."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from core.ids import METER_ID_PATTERN
from dashboard_api.deps import Caller
from dashboard_api.schemas.registry import (
    LifecycleIn,
    MeterState,
    RegisterIn,
    RegistryEventOut,
    RegistryMeterOut,
)
from registry import MeterRecord, Registry, State
from registry.lifecycle import MAX_PAGE


async def get_registry(request: Request) -> Registry:
    """The meter registry over the utility's database."""
    return request.app.state.registry


RegistryDep = Annotated[Registry, Depends(get_registry)]
MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN)]

router = APIRouter(
    prefix="/v1/registry",
    tags=["registry"],
    responses={
        401: {"description": "no or unknown token"},
        403: {"description": "utility operators only"},
        503: {"description": "database unavailable"},
    },
)


def _out(r: MeterRecord) -> RegistryMeterOut:
    return RegistryMeterOut(
        meter_id=r.meter_id, state=r.state.value, created_at=r.created_at, updated_at=r.updated_at
    )


@router.get(
    "/meters", response_model=list[RegistryMeterOut], summary="Registered meters, by id (keyset pages)"
)
def list_meters(
    _caller: Caller,
    registry: RegistryDep,
    state: MeterState | None = None,
    after: Annotated[str, Query(max_length=32, description="the last meter id of the previous page")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[RegistryMeterOut]:
    return [_out(r) for r in registry.meters(State(state) if state else None, after, limit)]


@router.post(
    "/meters",
    response_model=RegistryMeterOut,
    status_code=201,
    summary="Register a meter (active at once unless activate is false)",
    responses={409: {"description": "decommissioned: meter ids are not reused"}},
)
def register(caller: Caller, registry: RegistryDep, body: RegisterIn) -> RegistryMeterOut:
    return _out(registry.provision(body.meter_id, caller.subject, activate=body.activate))


@router.get(
    "/meters/{meter_id}",
    response_model=RegistryMeterOut,
    summary="One registered meter",
    responses={404: {"description": "not registered"}},
)
def get_meter(meter_id: MeterId, _caller: Caller, registry: RegistryDep) -> RegistryMeterOut:
    return _out(registry.get(meter_id))


@router.post(
    "/meters/{meter_id}/activate",
    response_model=RegistryMeterOut,
    summary="Installed: store its readings from now on",
    responses={404: {"description": "not registered"}, 409: {"description": "decommissioned"}},
)
def activate(
    meter_id: MeterId,
    caller: Caller,
    registry: RegistryDep,
    body: Annotated[LifecycleIn | None, Body()] = None,
) -> RegistryMeterOut:
    return _out(registry.activate(meter_id, caller.subject, body.detail if body else ""))


@router.post(
    "/meters/{meter_id}/decommission",
    response_model=RegistryMeterOut,
    summary="Removed for good: its readings are refused (unknown_meter) from now on",
    responses={404: {"description": "not registered"}},
)
def decommission(
    meter_id: MeterId,
    caller: Caller,
    registry: RegistryDep,
    body: Annotated[LifecycleIn | None, Body()] = None,
) -> RegistryMeterOut:
    return _out(registry.decommission(meter_id, caller.subject, body.detail if body else ""))


@router.get(
    "/meters/{meter_id}/events",
    response_model=list[RegistryEventOut],
    summary="A meter's lifecycle events, oldest first",
    responses={404: {"description": "not registered"}},
)
def events(
    meter_id: MeterId,
    _caller: Caller,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[RegistryEventOut]:
    registry.get(meter_id)
    return [RegistryEventOut(**asdict(e)) for e in registry.events(meter_id, limit)]
