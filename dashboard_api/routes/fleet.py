"""Fleet views for utility operators: top consumers, silent meters, open alerts, rejected readings."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from core.ids import METER_ID_PATTERN
from dashboard_api.deps import Caller, DirectoryDep, InfluxDep, SettingsDep, StoreDep
from dashboard_api.routes.common import MAX_RAW_RANGE_DAYS, models_json, time_range, zone_of
from dashboard_api.schemas import AlertOut, ConsumerOut, RejectionOut, SilentMeterOut
from storage.readings.fleet import silent_meters, silent_meters_influx, top_consumers, top_consumers_influx

_SILENT_LIST = TypeAdapter(list[SilentMeterOut])

router = APIRouter(
    prefix="/v1/fleet",
    tags=["fleet"],
    responses={
        401: {"description": "no or unknown token"},
        403: {"description": "utility operators only"},
        503: {"description": "store unavailable"},
    },
)


@router.get(
    "/top-consumers",
    response_model=list[ConsumerOut],
    summary="Meters that used the most water",
    responses={422: {"description": "bad range"}},
)
def top(
    _caller: Caller,
    store: StoreDep,
    ql: InfluxDep,
    settings: SettingsDep,
    start: Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")],
    stop: Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")],
    tz: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[ConsumerOut]:
    z = zone_of(tz or settings.default_tz)
    start_s, stop_s = time_range(start, stop, z, MAX_RAW_RANGE_DAYS)
    found = (
        top_consumers_influx(ql, start_s, stop_s, limit)
        if ql
        else top_consumers(store, start_s, stop_s, limit)
    )
    return [ConsumerOut(meter_id=c.meter, used_l=c.used_ml / 1000) for c in found]


@router.get("/silent", response_model=list[SilentMeterOut], summary="Meters silent for more than N hours")
def silent(
    _caller: Caller,
    store: StoreDep,
    ql: InfluxDep,
    hours: Annotated[float, Query(gt=0, le=24 * 365 * 10, description="silence threshold, hours")] = 24.0,
) -> Response:
    now_s = int(time.time())
    found = silent_meters_influx(ql, now_s, hours) if ql else silent_meters(store, now_s, hours)
    return models_json(
        _SILENT_LIST,
        [
            SilentMeterOut(
                meter_id=s.meter,
                last_reading_at=datetime.fromtimestamp(s.last_ts_s, UTC),
                silent_h=round((now_s - s.last_ts_s) / 3600, 2),
            )
            for s in found
        ],
    )


@router.get("/alerts", response_model=list[AlertOut], summary="Open (unresolved) alerts, newest first")
def alerts(_caller: Caller, directory: DirectoryDep) -> list[AlertOut]:
    return [AlertOut(**asdict(a)) for a in directory.open_alerts()]


@router.get(
    "/rejections", response_model=list[RejectionOut], summary="Rejected readings (dead-letter), newest first"
)
def rejections(
    _caller: Caller,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    reason: Annotated[
        str | None, Query(pattern=r"^[a-z_]{1,32}$", description="only this reason (docs/protocol.md)")
    ] = None,
    meter: Annotated[str | None, Query(pattern=METER_ID_PATTERN, description="only this meter's")] = None,
) -> list[RejectionOut]:
    found = store.rejections(limit, reason=reason, meter=meter)
    return [
        RejectionOut(
            received_at=datetime.fromtimestamp(r.received_s, UTC),
            topic=r.topic,
            reason=r.reason,
            detail=r.detail,
            payload=r.payload.decode("utf-8", errors="replace"),
        )
        for r in found
    ]
