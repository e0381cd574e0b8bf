"""Models of the meter registry routes (operators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.ids import METER_ID_PATTERN
from dashboard_api.schemas.billing import Strict

MeterState = Literal["provisioned", "active", "decommissioned"]


class RegisterIn(Strict):
    """A meter to register."""

    meter_id: str = Field(pattern=METER_ID_PATTERN, description="1-32 characters of [A-Za-z0-9_-]")
    activate: bool = Field(True, description="active at once (its readings are stored), else provisioned")


class LifecycleIn(Strict):
    """Why a meter changes state (kept in its event)."""

    detail: str = Field("", max_length=500)


class RegistryMeterOut(BaseModel):
    """A registered meter."""

    meter_id: str
    state: MeterState
    created_at: datetime
    updated_at: datetime


class RegistryEventOut(BaseModel):
    """One lifecycle event."""

    meter_id: str
    kind: str
    at: datetime
    actor: str
    detail: str
