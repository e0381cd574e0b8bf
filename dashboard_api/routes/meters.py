"""Meters and their usage (JSON and CSV)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from core.ids import METER_ID_PATTERN
from dashboard_api.deps import (
    AnyCaller,
    Caller,
    DirectoryDep,
    FlowsDep,
    SettingsDep,
    StoreDep,
    check_meter_visible,
)
from dashboard_api.routes.common import (
    CSV_RESPONSES,
    UsageQuery,
    csv_response,
    report_fields,
    run_report,
    usage_json,
    usage_query,
)
from dashboard_api.routes.registry import RegistryDep
from dashboard_api.schemas import MeterOut, UsageOut

router = APIRouter(prefix="/v1/meters", tags=["meters"])

MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN)]
Q = Annotated[UsageQuery, Depends(usage_query)]
DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown token"},
    404: {"description": "no such meter (or not yours)"},
    422: {"description": "bad range, zone or resolution"},
    503: {"description": "store unavailable"},
}


@router.get(
    "",
    response_model=list[MeterOut],
    summary="All meters with their latest reading (utility)",
    responses={403: {"description": "utility operators only"}},
)
def list_meters(_caller: Caller, store: StoreDep, registry: RegistryDep) -> list[MeterOut]:
    meters = store.meters()
    registered = registry.known_ids()
    if registered:  # the registry is the source of which meters exist (an empty one: not migrated yet)
        meters = [m for m in meters if m.meter in registered]
    return [
        MeterOut(
            meter_id=m.meter,
            last_reading_at=datetime.fromtimestamp(m.last_ts_s, UTC),
            last_total_l=m.last_total_ml / 1000,
        )
        for m in meters
    ]


@router.get(
    "/{meter_id}/usage",
    response_model=UsageOut,
    responses=DENIED,
    summary="Litres used per interval, in total, peak flow and night minimum",
)
def meter_usage(
    meter_id: MeterId,
    caller: AnyCaller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> Response:
    check_meter_visible(caller, directory, meter_id)
    report, zone = run_report(store, flows, [meter_id], q, settings)
    return usage_json(UsageOut, meter_id=meter_id, **report_fields(report, zone, q))


@router.get(
    "/{meter_id}/usage.csv",
    response_class=Response,
    responses={**CSV_RESPONSES, **DENIED},
    summary="The same usage as CSV",
)
def meter_usage_csv(
    meter_id: MeterId,
    caller: AnyCaller,
    q: Q,
    store: StoreDep,
    flows: FlowsDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> Response:
    check_meter_visible(caller, directory, meter_id)
    report, zone = run_report(store, flows, [meter_id], q, settings)
    return csv_response(report, zone, f"usage-{meter_id}-{q.every.value}.csv")
