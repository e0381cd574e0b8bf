"""Response models of the usage, fleet, photo and /me routes (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dashboard_api.schemas.alerts import LeakFigures


class MeterOut(BaseModel):
    meter_id: str
    last_reading_at: datetime
    last_total_l: float


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    used_l: float = Field(description="litres used in (start, end]")
    has_readings: bool
    peak_flow_lpm: float | None = Field(None, description="highest flow in the interval, L/min")


class UsageBase(BaseModel):
    start: datetime = Field(description="start of the first bucket (requested start rounded down in `tz`)")
    stop: datetime = Field(description="end of the last bucket (requested stop rounded up in `tz`)")
    every: str
    tz: str
    unit: str = "L"
    total_l: float
    resets: int = Field(
        description="segment breaks in the range: register reset or set, board swap (docs/consumption.md)"
    )
    peak_flow_lpm: float | None = Field(description="highest flow between consecutive readings, L/min")
    peak_flow_at: datetime | None
    night_min_l_per_h: float | None = Field(
        description="litres in the quietest whole night hour (local 02:00-05:00 by default); "
        ">0 every night hints a leak"
    )
    night_min_at: datetime | None
    intervals: list[IntervalOut]


class UsageOut(UsageBase):
    meter_id: str


class AccountUsageOut(UsageBase):
    account_id: int
    meters: list[str]


class GroupUsageOut(UsageBase):
    district: str | None
    building: str | None
    meters: list[str]


class RejectionOut(BaseModel):
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: str


class AccountSummaryOut(BaseModel):
    """An account in /v1/me: id, key, name, balance and meters."""

    account_id: int
    key: str
    name: str
    balance_yuan: str = Field(description="decimal text, e.g. '12.30'")
    meters: list[str]
    access: Literal["holder", "pay", "view"] = Field(
        "holder", description="holder: bound with verification; pay/view: delegated by a holder"
    )


class AlertOut(BaseModel):
    """An open alert in a list: what it is, and for leaks its figures."""

    alert_id: int
    account_id: int | None = Field(
        description="null: an alert for the utility alone (no account holds the meter)"
    )
    meter_id: str | None
    kind: str
    state: str
    title: str
    opened_at: datetime
    leak: LeakFigures | None = None


class MeOut(BaseModel):
    role: Literal["utility", "resident"]
    subject: str
    accounts: list[AccountSummaryOut]
    meters: list[str]
    alerts: list[AlertOut]


class ConsumerOut(BaseModel):
    meter_id: str
    used_l: float = Field(
        description="litres used in (start, stop] by the one consumption rule (docs/consumption.md): "
        "use on both sides of a reset counts, water is never counted twice"
    )


class SilentMeterOut(BaseModel):
    meter_id: str
    last_reading_at: datetime
    silent_h: float


class PhotoResultOut(BaseModel):
    photo_id: str = Field(description="the upload's id, for /v1/photos/{photo_id}/confirm")
    meter_id: str
    sha256: str
    status: Literal["stored", "needs_confirmation", "needs_operator", "rejected", "confirmed"]
    reading: str | None
    value_m3: float | None
    confidence: float
    needs_review: bool
    review_reason: str | None
    plausible: bool
    plausibility_reason: str | None
    previous_m3: float | None
    stored_reading_at: datetime | None
    candidates_m3: list[float] = Field(
        default_factory=list,
        description="the recognised value and the reader's alternatives, most likely first",
    )
    decimals_dropped: int = Field(
        0,
        description="red (decimal) wheels read too unsurely to count and left out: the reading is the "
        "black wheels' whole m3, as a meter reader writes it down (the full reading is in candidates_m3)",
    )
    second_reader: Literal["agrees", "agrees_on_black_wheels", "disagrees"] | None = Field(
        None,
        description="a second, independent text reader consulted on wheels read unsurely: whether it read "
        "the very same digits (then the reading may be stored), the same black (whole m3) wheels only, or "
        "not (its reading is among the candidates)",
    )
    views_agreeing: int = Field(
        0,
        description="0: read in one look; n >= 2: the first look was unsure, the photo was read again "
        "slightly turned and scaled, and n of those views read the same whole m3 surely (then the reading "
        "may be stored)",
    )
    window: list[list[float]] | None = Field(
        None,
        description="the counter window the reader found and read: four (x, y) corners tl, tr, br, bl as "
        "fractions of the upright photo (the form an upload's window takes; null when none was read)",
    )
    correction_m3: float | None = Field(
        None, description="the value a resident sent that did not pass the checks (status needs_operator)"
    )
    correction_check: str | None = Field(
        None,
        description="why it waits for an operator: not_a_candidate, lower_than_previous, impossible_jump, "
        "above_next_reading, below_next_reading_bound, no_history",
    )


class ConfirmIn(BaseModel):
    """Accept the recognised value ({}) or correct it; refuses unknown fields, NaN and Infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    value_m3: float | None = Field(
        None, ge=0, le=1e9, description="the corrected reading; omit to accept the recognised one"
    )
