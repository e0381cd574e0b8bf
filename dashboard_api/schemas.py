"""Response models (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MeterOut(BaseModel):
    meter_id: str
    last_reading_at: datetime
    last_total_l: float


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    used_l: float = Field(description="litres used in (start, end]")
    has_readings: bool


class UsageOut(BaseModel):
    meter_id: str
    start: datetime
    stop: datetime
    every: str
    unit: str = "L"
    total_l: float
    resets: int = Field(description="register totals that went down (register set or board swap)")
    intervals: list[IntervalOut]


class RejectionOut(BaseModel):
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: str
