"""Request and response models of the VEE routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.ids import METER_ID_PATTERN
from vee.lifecycle import EventKind
from vee.model import EditAction, ReasonCode


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


class EditIn(BaseModel):
    """An operator's edit of one reading; unknown fields, NaN and Infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ts: datetime = Field(description="the reading's time (ISO-8601 with offset)")
    action: EditAction
    reason_code: ReasonCode
    total_l: float | None = Field(None, ge=0, le=1e12, description="new register total for `replace`")
    meter: str | None = Field(None, pattern=METER_ID_PATTERN, description="physical meter, if several")
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


class EventIn(BaseModel):
    """A lifecycle event; unknown fields, NaN and Infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: EventKind
    ts: datetime
    meter: str | None = Field(None, pattern=METER_ID_PATTERN)
    read_l: float | None = Field(None, ge=0, le=1e12)
    new_meter: str | None = Field(None, pattern=METER_ID_PATTERN)
    new_read_l: float | None = Field(None, ge=0, le=1e12)
    account: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=2000)


class EventOut(EventIn):
    id: int
    operator: str


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
