"""Meters and their usage."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Path, Query

from dashboard_api.deps import Caller, SettingsDep, StoreDep
from dashboard_api.schemas import IntervalOut, MeterOut, UsageOut
from dashboard_api.usage import usage
from ingest.store.base import StoreError

router = APIRouter(prefix="/v1/meters", tags=["meters"])

MeterId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class Every(str, Enum):
    m1 = "1m"
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


_EVERY_S = {"1m": 60, "15m": 900, "1h": 3600, "1d": 86400}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise HTTPException(422, f"unknown time zone {name!r}") from err


def _aware(t: datetime, tz: ZoneInfo) -> datetime:
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


@router.get("", response_model=list[MeterOut], summary="All meters with their latest reading")
def list_meters(_caller: Caller, store: StoreDep) -> list[MeterOut]:
    try:
        meters = store.meters()
    except StoreError as err:
        raise HTTPException(503, f"store unavailable: {err}") from err
    return [MeterOut(meter_id=m.meter, last_reading_at=datetime.fromtimestamp(m.last_ts_s, UTC),
                     last_total_l=m.last_total_ml / 1000) for m in meters]


@router.get("/{meter_id}/usage", response_model=UsageOut, summary="Litres used per interval and in total")
def meter_usage(
    meter_id: MeterId,
    _caller: Caller,
    store: StoreDep,
    settings: SettingsDep,
    start: Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")],
    stop: Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")],
    every: Every = Every.h1,
    tz: Annotated[str | None, Query(description="IANA time zone, default Asia/Shanghai")] = None,
) -> UsageOut:
    zone = _zone(tz or settings.default_tz)
    start_s = int(_aware(start, zone).timestamp())
    stop_s = int(_aware(stop, zone).timestamp())
    every_s = _EVERY_S[every.value]
    if stop_s <= start_s:
        raise HTTPException(422, "stop must be after start")
    if (stop_s - start_s) // every_s > settings.max_intervals:
        raise HTTPException(422, f"more than {settings.max_intervals} intervals: use a coarser `every`")
    try:
        result = usage(store, meter_id, start_s, stop_s, every_s)
    except StoreError as err:
        raise HTTPException(503, f"store unavailable: {err}") from err
    return UsageOut(
        meter_id=meter_id,
        start=datetime.fromtimestamp(start_s, zone),
        stop=datetime.fromtimestamp(stop_s, zone),
        every=every.value,
        total_l=result.total_ml / 1000,
        resets=result.resets,
        intervals=[IntervalOut(start=datetime.fromtimestamp(i.start_s, zone), end=datetime.fromtimestamp(i.end_s, zone),
                               used_l=i.used_ml / 1000, has_readings=i.readings) for i in result.intervals],
    )
