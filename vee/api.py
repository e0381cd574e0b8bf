"""VEE routes for utility operators: raw vs validated series, review items, edits, audit, lifecycle, exports.

Mounted by dashboard_api; needs `app.state.store` (ingest Store) and `app.state.vee_db` (vee.db.VeeDb),
optionally `app.state.vee_config` (vee.config.VeeConfig). See docs/vee.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from dashboard_api.auth import UtilityCaller
from dashboard_api.config import ApiSettings, get_settings
from ingest.store.base import StoreError
from vee import tariff
from vee.config import VeeConfig
from vee.db import VeeDb, VeeDbError
from vee.export import to_csv, to_ngsi_ld
from vee.lifecycle import EventKind, LifecycleEvent
from vee.model import EditAction, ReasonCode
from vee.service import SeriesView, VeeService

router = APIRouter(prefix="/v1/vee/meters", tags=["vee"])

MeterId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="service point (meter id by default)")
]
MAX_INTERVALS = 50_000


def get_vee(request: Request, settings: Annotated[ApiSettings, Depends(get_settings)]) -> VeeService:
    """The VEE service over the app's store and VEE database."""
    db: VeeDb | None = getattr(request.app.state, "vee_db", None)
    store = getattr(request.app.state, "store", None)
    if db is None or store is None:
        raise HTTPException(503, "VEE is not configured: app.state.vee_db and app.state.store are needed")
    cfg = getattr(request.app.state, "vee_config", None) or VeeConfig(tz=settings.default_tz)
    return VeeService(store, db, cfg)


Vee = Annotated[VeeService, Depends(get_vee)]
Start = Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")]
Stop = Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")]
Tz = Annotated[str | None, Query(description="IANA time zone, default the VEE config's (Asia/Shanghai)")]


def _range(vee: VeeService, start: datetime, stop: datetime, tz: str | None) -> tuple[int, int, str]:
    name = tz or vee.cfg.tz
    try:
        zone = tariff.zone(name)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    start_s = int((start if start.tzinfo else start.replace(tzinfo=zone)).timestamp())
    stop_s = int((stop if stop.tzinfo else stop.replace(tzinfo=zone)).timestamp())
    if stop_s <= start_s:
        raise HTTPException(422, "stop must be after start")
    return start_s, stop_s, name


def _view(vee: VeeService, point: str, start_s: int, stop_s: int) -> SeriesView:
    try:
        return vee.view(point, start_s, stop_s)
    except StoreError as err:
        raise HTTPException(503, f"store unavailable: {err}") from err
    except VeeDbError as err:
        raise HTTPException(503, f"VEE database unavailable: {err}") from err
    except ValueError as err:  # inconsistent lifecycle history or a bad edit in the database
        raise HTTPException(409, str(err)) from err


def _dt(ts_s: int) -> datetime:
    return datetime.fromtimestamp(ts_s, UTC)


class RawOut(BaseModel):
    meter: str
    ts: datetime
    total_l: float
    seq: int
    boot: int
    source: str


class PointOut(BaseModel):
    meter: str
    ts: datetime
    total_l: float
    consumption_l: float = Field(description="cumulative consumption of the point since the series began")
    status: str
    segment: int
    flags: list[str]
    raw_total_l: float | None


class FindingOut(BaseModel):
    meter: str
    ts: datetime
    rule: str
    detail: str
    excluded: bool


class SeriesOut(BaseModel):
    meter_id: str
    raw: list[RawOut]
    validated: list[PointOut]
    findings: list[FindingOut]


@router.get("/{meter_id}/series", response_model=SeriesOut, summary="Raw readings and the validated series")
def series(
    meter_id: MeterId, _caller: UtilityCaller, vee: Vee, start: Start, stop: Stop, tz: Tz = None
) -> SeriesOut:
    start_s, stop_s, _ = _range(vee, start, stop, tz)
    view = _view(vee, meter_id, start_s, stop_s)
    inside = range(start_s + 1, stop_s + 1)
    return SeriesOut(
        meter_id=meter_id,
        raw=[
            RawOut(
                meter=r.meter,
                ts=_dt(r.ts_s),
                total_l=r.total_ml / 1000,
                seq=r.seq,
                boot=r.boot,
                source=r.source,
            )
            for r in view.raw
            if r.ts_s in inside
        ],
        validated=[
            PointOut(
                meter=p.meter,
                ts=_dt(p.ts_s),
                total_l=p.total_ml / 1000,
                consumption_l=p.cum_ml / 1000,
                status=p.status.value,
                segment=p.segment,
                flags=p.flags,
                raw_total_l=None if p.raw_ml is None else p.raw_ml / 1000,
            )
            for p in view.series.points
            if p.ts_s in inside
        ],
        findings=[
            FindingOut(meter=f.meter, ts=_dt(f.ts_s), rule=f.rule.value, detail=f.detail, excluded=f.excluded)
            for f in view.series.findings
            if f.ts_s in inside
        ],
    )


class Every(StrEnum):
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


_EVERY_S = {"15m": 900, "1h": 3600, "1d": 86400}


class VeeIntervalOut(BaseModel):
    start: datetime
    end: datetime
    used_l: float
    estimated: bool


class VeeUsageOut(BaseModel):
    meter_id: str
    total_l: float = Field(
        description="validated consumption in (start, stop]; equals the register difference"
    )
    estimated: bool
    edited: bool
    intervals: list[VeeIntervalOut]


@router.get("/{meter_id}/usage", response_model=VeeUsageOut, summary="Validated consumption per interval")
def usage(
    meter_id: MeterId,
    _caller: UtilityCaller,
    vee: Vee,
    start: Start,
    stop: Stop,
    every: Every = Every.h1,
    tz: Tz = None,
) -> VeeUsageOut:
    start_s, stop_s, name = _range(vee, start, stop, tz)
    every_s = _EVERY_S[every.value]
    if (stop_s - start_s) // every_s > MAX_INTERVALS:
        raise HTTPException(422, f"more than {MAX_INTERVALS} intervals: use a coarser `every`")
    s = _view(vee, meter_id, start_s, stop_s).series
    zone = tariff.zone(name)
    return VeeUsageOut(
        meter_id=meter_id,
        total_l=s.consumption(start_s, stop_s) / 1000,
        estimated=s.uses_estimates(start_s, stop_s),
        edited=s.uses_edits(start_s, stop_s),
        intervals=[
            VeeIntervalOut(
                start=datetime.fromtimestamp(i.start_s, zone),
                end=datetime.fromtimestamp(i.end_s, zone),
                used_l=i.used_ml / 1000,
                estimated=i.estimated,
            )
            for i in s.intervals(start_s, stop_s, every_s)
        ],
    )


class ReviewOut(BaseModel):
    id: int
    meter: str
    ts: datetime
    rule: str
    detail: str
    excluded: bool
    status: str
    resolved_by: str | None
    resolution: str | None


@router.get(
    "/{meter_id}/review-items", response_model=list[ReviewOut], summary="Failed rules awaiting review"
)
def review_items(
    meter_id: MeterId, _caller: UtilityCaller, vee: Vee, status: Literal["open", "resolved"] | None = None
) -> list[ReviewOut]:
    try:
        items = vee.db.review_items(vee.meters_of(meter_id), status)
    except VeeDbError as err:
        raise HTTPException(503, str(err)) from err
    return [
        ReviewOut(
            id=i.id,
            meter=i.meter,
            ts=_dt(i.ts_s),
            rule=i.rule,
            detail=i.detail,
            excluded=i.excluded,
            status=i.status,
            resolved_by=i.resolved_by,
            resolution=i.resolution,
        )
        for i in items
    ]


class EditIn(BaseModel):
    ts: datetime = Field(description="the reading's time (ISO-8601 with offset)")
    action: EditAction
    reason_code: ReasonCode
    total_l: float | None = Field(None, ge=0, le=1e12, description="new register total for `replace`")
    meter: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,32}$", description="physical meter, if several"
    )
    note: str = Field("", max_length=2000)


class EditOut(BaseModel):
    id: int
    meter: str
    ts: datetime
    action: str
    reason_code: str
    operator: str
    at: datetime
    total_l: float | None
    total_before_l: float | None
    note: str


def _edit_out(e) -> EditOut:
    return EditOut(
        id=e.id or 0,
        meter=e.meter,
        ts=_dt(e.ts_s),
        action=e.action.value,
        reason_code=e.reason.value,
        operator=e.operator,
        at=_dt(e.at_s),
        total_l=None if e.value_ml is None else e.value_ml / 1000,
        total_before_l=None if e.value_before_ml is None else e.value_before_ml / 1000,
        note=e.note,
    )


@router.post(
    "/{meter_id}/edits", response_model=EditOut, status_code=201, summary="Replace or confirm a reading"
)
def edit(meter_id: MeterId, body: EditIn, caller: UtilityCaller, vee: Vee) -> EditOut:
    if body.ts.tzinfo is None:
        raise HTTPException(422, "ts needs a UTC offset")
    value_ml = None if body.total_l is None else round(body.total_l * 1000)
    if body.action == EditAction.REPLACE and value_ml is None:
        raise HTTPException(422, "replace needs total_l")
    try:
        e = vee.edit(
            meter_id,
            body.meter,
            int(body.ts.timestamp()),
            body.action,
            body.reason_code,
            caller.subject,
            value_ml,
            body.note,
        )
    except LookupError as err:
        raise HTTPException(404, str(err)) from err
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    except (StoreError, VeeDbError) as err:
        raise HTTPException(503, str(err)) from err
    return _edit_out(e)


@router.get(
    "/{meter_id}/audit", response_model=list[EditOut], summary="Every edit: who, when, why, value before"
)
def audit(meter_id: MeterId, _caller: UtilityCaller, vee: Vee) -> list[EditOut]:
    try:
        return [_edit_out(e) for e in vee.db.edits(vee.meters_of(meter_id))]
    except VeeDbError as err:
        raise HTTPException(503, str(err)) from err


class EventIn(BaseModel):
    kind: EventKind
    ts: datetime
    meter: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    read_l: float | None = Field(None, ge=0, le=1e12)
    new_meter: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    new_read_l: float | None = Field(None, ge=0, le=1e12)
    account: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=2000)


class EventOut(EventIn):
    id: int
    operator: str


def _event_out(e: LifecycleEvent) -> EventOut:
    return EventOut(
        id=e.id or 0,
        kind=e.kind,
        ts=_dt(e.ts_s),
        meter=e.meter,
        read_l=None if e.read_ml is None else e.read_ml / 1000,
        new_meter=e.new_meter,
        new_read_l=None if e.new_read_ml is None else e.new_read_ml / 1000,
        account=e.account,
        note=e.note,
        operator=e.operator,
    )


@router.get(
    "/{meter_id}/lifecycle", response_model=list[EventOut], summary="Install, swap, removal, move-in/out"
)
def lifecycle_events(meter_id: MeterId, _caller: UtilityCaller, vee: Vee) -> list[EventOut]:
    return [_event_out(e) for e in vee.db.events(meter_id)]


def _ml(litres: float | None) -> int | None:
    return None if litres is None else round(litres * 1000)


@router.post(
    "/{meter_id}/lifecycle", response_model=EventOut, status_code=201, summary="Record a lifecycle event"
)
def add_lifecycle_event(meter_id: MeterId, body: EventIn, caller: UtilityCaller, vee: Vee) -> EventOut:
    if body.ts.tzinfo is None:
        raise HTTPException(422, "ts needs a UTC offset")
    event = LifecycleEvent(
        meter_id,
        body.kind,
        int(body.ts.timestamp()),
        body.meter,
        _ml(body.read_l),
        body.new_meter,
        _ml(body.new_read_l),
        body.account,
        caller.subject,
        body.note,
    )
    try:
        return _event_out(vee.add_event(event))
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    except VeeDbError as err:
        raise HTTPException(503, str(err)) from err


class DeterminantsOut(BaseModel):
    meter_id: str
    table: str
    start: datetime
    stop: datetime
    volume_l: float
    tier_l: list[float]
    charge_fen: int | None
    estimated: bool = Field(description="the period uses estimated consumption")
    edited: bool


@router.get("/{meter_id}/determinants", response_model=DeterminantsOut, summary="Volume per tariff tier")
def determinants(
    meter_id: MeterId,
    _caller: UtilityCaller,
    vee: Vee,
    start: Start,
    stop: Stop,
    table: Annotated[str, Query(description="beijing, shanghai or guangzhou")] = "beijing",
    tz: Tz = None,
) -> DeterminantsOut:
    try:
        tiers_table = tariff.table_for(table)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    start_s, stop_s, name = _range(vee, start, stop, tz)
    # Tier position counts from the start of the tier period, so the series must reach back to it.
    reach = tariff.tier_period_start(start_s + 1, tiers_table, tariff.zone(name))
    s = _view(vee, meter_id, min(reach, start_s), stop_s).series
    d = tariff.determinants(s, start_s, stop_s, tiers_table, name)
    zone = tariff.zone(name)
    return DeterminantsOut(
        meter_id=meter_id,
        table=table,
        start=datetime.fromtimestamp(start_s, zone),
        stop=datetime.fromtimestamp(stop_s, zone),
        volume_l=d.volume_ml / 1000,
        tier_l=[v / 1000 for v in d.tier_ml],
        charge_fen=d.charge_fen,
        estimated=d.estimated,
        edited=d.edited,
    )


@router.get(
    "/{meter_id}/export.csv",
    response_class=PlainTextResponse,
    summary="Validated series as CSV",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_csv(
    meter_id: MeterId, _caller: UtilityCaller, vee: Vee, start: Start, stop: Stop, tz: Tz = None
) -> PlainTextResponse:
    start_s, stop_s, _ = _range(vee, start, stop, tz)
    text = to_csv(_view(vee, meter_id, start_s, stop_s).series, start_s, stop_s)
    return PlainTextResponse(
        text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{meter_id}.csv"'}
    )


@router.get(
    "/{meter_id}/export.ngsi-ld",
    summary="Validated series as FIWARE WaterConsumptionObserved (NGSI-LD)",
    responses={200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}},
)
def export_ngsi_ld(
    meter_id: MeterId, _caller: UtilityCaller, vee: Vee, start: Start, stop: Stop, tz: Tz = None
) -> JSONResponse:
    start_s, stop_s, _ = _range(vee, start, stop, tz)
    entity = to_ngsi_ld(_view(vee, meter_id, start_s, stop_s).series, start_s, stop_s)
    return JSONResponse(entity, media_type="application/ld+json")
