"""The utility console's views (operators): the fleet list with search, filters and paging, a meter's
detail and status history, the VEE review queue, and the alert workflow (notes, assignment, resolution)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from billing import alert_workflow
from billing import alerts as alerts_mod
from billing.alerts import Delivery
from billing.config import get_billing_settings
from billing.db import Account, Alert, Meter
from billing.errors import NotFound
from core.ids import METER_ID_PATTERN
from dashboard_api.auth import UtilityCaller
from dashboard_api.deps import BillingTx, ClockDep, StoreDep, VeeDep
from dashboard_api.routes.vee import review_out
from dashboard_api.schemas.apps import (
    AlertActionOut,
    AlertAssignIn,
    AlertNoteIn,
    AlertResolveIn,
    FleetMeterOut,
    FleetPageOut,
    MeterDetailOut,
    StatusOut,
)
from dashboard_api.schemas.vee import ReviewOut
from storage import meter_status
from storage.meter_status import Status

router = APIRouter(prefix="/v1", tags=["console"])
MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN)]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SORTS = ("meter", "last_seen", "silent", "rssi", "battery", "alerts")


def _dt(t_s: int | None) -> datetime | None:
    return None if t_s is None else datetime.fromtimestamp(t_s, UTC)


def _status_out(st: Status) -> StatusOut:
    return StatusOut(
        ts=datetime.fromtimestamp(st.ts_s, UTC),
        state=st.state,
        fw=st.fw,
        rssi_dbm=st.rssi_dbm,
        battery_pct=st.battery_pct,
        boot=st.boot,
        reset_cause=st.reset_cause,
    )


def fleet_rows(s, store, now_s: int) -> list[FleetMeterOut]:  # noqa: ANN001
    """Every meter known to the store, the accounts or the status log, with what the console shows."""
    last = {m.meter: m for m in store.meters()}
    billed = {m.meter_id: m for m in s.scalars(select(Meter))}
    keys = {a.id: a.key for a in s.scalars(select(Account))}
    status = meter_status.latest(s)
    open_alerts = Counter(
        a.meter_id for a in s.scalars(select(Alert).where(Alert.state != "resolved")) if a.meter_id
    )
    rows = []
    for meter in sorted(last.keys() | billed.keys() | status.keys()):
        r, b, st = last.get(meter), billed.get(meter), status.get(meter)
        rows.append(
            FleetMeterOut(
                meter_id=meter,
                account_id=b.account_id if b else None,
                account=keys.get(b.account_id) if b else None,
                district=b.district if b else None,
                building=b.building if b else None,
                last_reading_at=_dt(r.last_ts_s) if r else None,
                last_total_l=r.last_total_ml / 1000 if r else None,
                silent_h=round((now_s - r.last_ts_s) / 3600, 2) if r else None,
                state=st.state if st else None,
                fw=st.fw if st else None,
                rssi_dbm=st.rssi_dbm if st else None,
                battery_pct=st.battery_pct if st else None,
                open_alerts=open_alerts.get(meter, 0),
            )
        )
    return rows


def _sort_key(sort: str):  # noqa: ANN202
    big = float("inf")
    return {
        "meter": lambda m: (m.meter_id,),
        "last_seen": lambda m: (-(m.last_reading_at.timestamp()) if m.last_reading_at else big, m.meter_id),
        "silent": lambda m: (-(m.silent_h if m.silent_h is not None else big), m.meter_id),
        "rssi": lambda m: (m.rssi_dbm if m.rssi_dbm is not None else big, m.meter_id),
        "battery": lambda m: (m.battery_pct if m.battery_pct is not None else big, m.meter_id),
        "alerts": lambda m: (-m.open_alerts, m.meter_id),
    }[sort]


@router.get("/fleet/meters", response_model=FleetPageOut, summary="Meters: search, filters and paging")
def fleet_meters(
    _caller: UtilityCaller,
    s: BillingTx,
    store: StoreDep,
    q: Annotated[
        str, Query(max_length=64, description="part of the meter id, account, district or building")
    ] = "",
    state: Annotated[
        Literal["online", "offline", "silent", "never", "any"],
        Query(description="silent: no reading for `silent_h`"),
    ] = "any",
    silent_h: Annotated[float, Query(gt=0, le=24 * 365)] = 24.0,
    firmware: Annotated[str | None, Query(max_length=32)] = None,
    rssi_below: Annotated[float | None, Query(ge=-200, le=0)] = None,
    battery_below: Annotated[float | None, Query(ge=0, le=100)] = None,
    with_alerts: bool = False,
    sort: Literal["meter", "last_seen", "silent", "rssi", "battery", "alerts"] = "meter",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FleetPageOut:
    rows = fleet_rows(s, store, int(time.time()))
    versions = sorted({m.fw for m in rows if m.fw})
    needle = q.strip().lower()
    if needle:
        rows = [
            m
            for m in rows
            if any(needle in (v or "").lower() for v in (m.meter_id, m.account, m.district, m.building))
        ]
    if state in ("online", "offline"):
        rows = [m for m in rows if m.state == state]
    elif state == "silent":
        rows = [m for m in rows if m.silent_h is not None and m.silent_h > silent_h]
    elif state == "never":
        rows = [m for m in rows if m.last_reading_at is None]
    if firmware:
        rows = [m for m in rows if m.fw == firmware]
    if rssi_below is not None:
        rows = [m for m in rows if m.rssi_dbm is not None and m.rssi_dbm < rssi_below]
    if battery_below is not None:
        rows = [m for m in rows if m.battery_pct is not None and m.battery_pct < battery_below]
    if with_alerts:
        rows = [m for m in rows if m.open_alerts]
    rows.sort(key=_sort_key(sort))
    return FleetPageOut(
        total=len(rows), offset=offset, limit=limit, items=rows[offset : offset + limit], firmware=versions
    )


@router.get(
    "/fleet/meters/{meter_id}", response_model=MeterDetailOut, summary="A meter: account, status, alerts"
)
def meter_detail(meter_id: MeterId, _caller: UtilityCaller, s: BillingTx, store: StoreDep) -> MeterDetailOut:
    row = next((m for m in fleet_rows(s, store, int(time.time())) if m.meter_id == meter_id), None)
    if row is None:
        raise NotFound(f"no meter {meter_id}")
    billed = s.get(Meter, meter_id)
    alerts = s.scalars(
        select(Alert)
        .where(Alert.meter_id == meter_id)
        .order_by(Alert.opened_at.desc(), Alert.id.desc())
        .limit(50)
    )
    return MeterDetailOut(
        meter=row,
        installed_at=billed.installed_at if billed else None,
        utility=billed.account.utility if billed else None,
        status=[_status_out(st) for st in meter_status.history(s, meter_id, 50)],
        alerts=[alerts_mod.alert_json(a) for a in alerts],
    )


@router.get(
    "/fleet/meters/{meter_id}/status-history",
    response_model=list[StatusOut],
    summary="Status messages, newest first",
)
def status_history(
    meter_id: MeterId,
    _caller: UtilityCaller,
    s: BillingTx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[StatusOut]:
    return [_status_out(st) for st in meter_status.history(s, meter_id, limit)]


@router.get("/vee/review-items", response_model=list[ReviewOut], summary="The review queue of every meter")
def review_queue(
    _caller: UtilityCaller,
    vee: VeeDep,
    status: Literal["open", "resolved"] | None = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ReviewOut]:
    return [review_out(i) for i in vee.db.review_queue(status, limit)]


def _action_out(a) -> AlertActionOut:  # noqa: ANN001
    return AlertActionOut(
        id=a.id,
        alert_id=a.alert_id,
        action=a.action,
        by=a.by,
        text=a.text,
        assignee=a.assignee,
        public=a.public,
        at=a.at,
    )


@router.get(
    "/alerts/{alert_id}/actions",
    response_model=list[AlertActionOut],
    summary="The utility's steps on an alert",
)
def alert_actions(alert_id: AlertId, _caller: UtilityCaller, s: BillingTx) -> list[AlertActionOut]:
    return [_action_out(a) for a in alert_workflow.history(s, alert_id)]


@router.post(
    "/alerts/{alert_id}/notes", response_model=AlertActionOut, status_code=201, summary="Note on an alert"
)
def alert_note(
    alert_id: AlertId, body: AlertNoteIn, caller: UtilityCaller, s: BillingTx, clock: ClockDep
) -> AlertActionOut:
    return _action_out(alert_workflow.add_note(s, alert_id, caller.subject, body.text, body.public, clock()))


@router.post(
    "/alerts/{alert_id}/assign", response_model=AlertActionOut, status_code=201, summary="Assign an alert"
)
def alert_assign(
    alert_id: AlertId, body: AlertAssignIn, caller: UtilityCaller, s: BillingTx, clock: ClockDep
) -> AlertActionOut:
    return _action_out(alert_workflow.assign(s, alert_id, caller.subject, body.assignee, clock()))


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert by hand, with a reason")
def alert_resolve(
    alert_id: AlertId, body: AlertResolveIn, caller: UtilityCaller, s: BillingTx, clock: ClockDep
) -> dict:
    delivery = Delivery.from_settings(get_billing_settings())
    return alerts_mod.alert_json(
        alert_workflow.close(s, alert_id, caller.subject, body.note, delivery, clock())
    )
