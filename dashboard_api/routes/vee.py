"""VEE routes for utility operators: raw vs validated series, review items, edits, audit, lifecycle, exports.

See docs/vee.md. Ranges without an offset are in `tz` (default the VEE settings' zone).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from core.errors import Invalid
from core.ids import METER_ID_PATTERN
from core.tariffs import tariff_for
from core.timegrid import Every, clipped_boundaries
from core.timezones import zone
from core.units import ml_from_litres
from dashboard_api.auth import UtilityCaller
from dashboard_api.deps import VeeDep
from dashboard_api.routes.common import MAX_RAW_RANGE_DAYS, epoch_s, time_range, zone_of
from dashboard_api.schemas.vee import (
    DeterminantsOut,
    EditIn,
    EditOut,
    EventIn,
    EventOut,
    FindingOut,
    PointOut,
    RawOut,
    ReviewOut,
    SeriesOut,
    VeeIntervalOut,
    VeeUsageOut,
)
from vee import tariff
from vee.db import ReviewItem
from vee.export import to_csv, to_ngsi_ld
from vee.lifecycle import LifecycleEvent
from vee.model import EditAction
from vee.service import SeriesView, VeeService

router = APIRouter(prefix="/v1/vee/meters", tags=["vee"])

MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN, description="service point (meter id by default)")]
MAX_INTERVALS = 50_000
Start = Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")]
Stop = Annotated[datetime, Query(description="ISO-8601; without an offset, in `tz`")]
Tz = Annotated[
    str | None, Query(max_length=64, description="IANA time zone, default the VEE config's (Asia/Shanghai)")
]


def _range(vee: VeeService, start: datetime, stop: datetime, tz: str | None) -> tuple[int, int, str]:
    name = tz or vee.cfg.tz
    start_s, stop_s = time_range(start, stop, zone_of(name), MAX_RAW_RANGE_DAYS)
    return start_s, stop_s, name


def _view(vee: VeeService, point: str, start_s: int, stop_s: int) -> SeriesView:
    return vee.view(point, start_s, stop_s)


def _dt(ts_s: int) -> datetime:
    return datetime.fromtimestamp(ts_s, UTC)


@router.get("/{meter_id}/series", response_model=SeriesOut, summary="Raw readings and the validated series")
def series(
    meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep, start: Start, stop: Stop, tz: Tz = None
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
                source=r.source.value,
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


@router.get("/{meter_id}/usage", response_model=VeeUsageOut, summary="Validated consumption per interval")
def usage(
    meter_id: MeterId,
    _caller: UtilityCaller,
    vee: VeeDep,
    start: Start,
    stop: Stop,
    every: Every = Every.h1,
    tz: Tz = None,
) -> VeeUsageOut:
    """Intervals follow the calendar grid of `tz` (a day is 23-25 h across DST), cut at start and stop."""
    start_s, stop_s, name = _range(vee, start, stop, tz)
    z = zone(name)
    bounds = clipped_boundaries(start_s, stop_s, every, z, MAX_INTERVALS)
    s = _view(vee, meter_id, start_s, stop_s).series
    return VeeUsageOut(
        meter_id=meter_id,
        total_l=s.consumption(start_s, stop_s) / 1000,
        estimated=s.uses_estimates(start_s, stop_s),
        edited=s.uses_edits(start_s, stop_s),
        intervals=[
            VeeIntervalOut(
                start=datetime.fromtimestamp(i.start_s, z),
                end=datetime.fromtimestamp(i.end_s, z),
                used_l=i.used_ml / 1000,
                estimated=i.estimated,
            )
            for i in s.intervals_on(bounds)
        ],
    )


@router.get(
    "/{meter_id}/review-items", response_model=list[ReviewOut], summary="Failed rules awaiting review"
)
def review_items(
    meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep, status: Literal["open", "resolved"] | None = None
) -> list[ReviewOut]:
    return [review_out(i) for i in vee.db.review_items(vee.meters_of(meter_id), status)]


def review_out(i: ReviewItem) -> ReviewOut:
    """A review item as the API shows it."""
    return ReviewOut(
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


def _edit_out(e) -> EditOut:  # noqa: ANN001 (vee.model.Edit)
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


def _ml(litres: float | None) -> int | None:
    return None if litres is None else ml_from_litres(litres, exact=False)


@router.post(
    "/{meter_id}/edits", response_model=EditOut, status_code=201, summary="Replace or confirm a reading"
)
def edit(meter_id: MeterId, body: EditIn, caller: UtilityCaller, vee: VeeDep) -> EditOut:
    if body.ts.tzinfo is None:
        raise Invalid("ts needs a UTC offset")
    value_ml = _ml(body.total_l)
    if body.action == EditAction.REPLACE and value_ml is None:
        raise Invalid("replace needs total_l")
    e = vee.edit(
        meter_id,
        body.meter,
        epoch_s(body.ts, zone("UTC")),
        body.action,
        body.reason_code,
        caller.subject,
        value_ml,
        body.note,
    )
    return _edit_out(e)


@router.get(
    "/{meter_id}/audit", response_model=list[EditOut], summary="Every edit: who, when, why, value before"
)
def audit(meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep) -> list[EditOut]:
    return [_edit_out(e) for e in vee.db.edits(vee.meters_of(meter_id))]


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
def lifecycle_events(meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep) -> list[EventOut]:
    return [_event_out(e) for e in vee.db.events(meter_id)]


@router.post(
    "/{meter_id}/lifecycle", response_model=EventOut, status_code=201, summary="Record a lifecycle event"
)
def add_lifecycle_event(meter_id: MeterId, body: EventIn, caller: UtilityCaller, vee: VeeDep) -> EventOut:
    if body.ts.tzinfo is None:
        raise Invalid("ts needs a UTC offset")
    event = LifecycleEvent(
        meter_id,
        body.kind,
        epoch_s(body.ts, zone("UTC")),
        body.meter,
        _ml(body.read_l),
        body.new_meter,
        _ml(body.new_read_l),
        body.account,
        caller.subject,
        body.note,
    )
    return _event_out(vee.add_event(event))


@router.get("/{meter_id}/determinants", response_model=DeterminantsOut, summary="Volume per tariff tier")
def determinants(
    meter_id: MeterId,
    _caller: UtilityCaller,
    vee: VeeDep,
    start: Start,
    stop: Stop,
    table: Annotated[str, Query(max_length=32, description="beijing, shanghai or guangzhou")] = "beijing",
    tz: Tz = None,
) -> DeterminantsOut:
    """Billing periods start at local midnight in the utility's zone (the tariff's); `tz` reads the range."""
    tar = tariff_for(table)
    start_s, stop_s, name = _range(vee, start, stop, tz)
    # Tier position counts from the start of the billing period, so the series must reach back to it.
    reach = tariff.period_reach_s(tar, start_s)
    s = _view(vee, meter_id, min(reach, start_s), stop_s).series
    d = tariff.determinants(s, start_s, stop_s, tar)
    z = zone(name)
    return DeterminantsOut(
        meter_id=meter_id,
        table=table,
        start=datetime.fromtimestamp(start_s, z),
        stop=datetime.fromtimestamp(stop_s, z),
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
    meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep, start: Start, stop: Stop, tz: Tz = None
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
    meter_id: MeterId, _caller: UtilityCaller, vee: VeeDep, start: Start, stop: Stop, tz: Tz = None
) -> JSONResponse:
    start_s, stop_s, _ = _range(vee, start, stop, tz)
    entity = to_ngsi_ld(_view(vee, meter_id, start_s, stop_s).series, start_s, stop_s)
    return JSONResponse(entity, media_type="application/ld+json")
