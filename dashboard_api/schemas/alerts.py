"""Response and request models of the alert routes: the leak figures as typed fields, not only a title."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from dashboard_api.schemas.billing import Strict


class FeedbackOut(BaseModel):
    """Someone's word on a leak alert or unusual-use notice."""

    verdict: Literal["mine", "not_mine"]
    by: str
    at: datetime


class LeakFigures(BaseModel):
    """What a leak alert (or an unusual-use notice) says, field by field (docs/leaks.md, "Alert fields").

    Times are data time: when the meter's minutes showed it, not when it was processed.
    """

    leak_kind: str | None = Field(
        None, description="drip | continuous | running_toilet | burst (leak alerts); unusual_use (notices)"
    )
    rule: str | None = Field(None, description="the detector rule that opened it (docs/leaks.md)")
    rate_lph: float | None = Field(None, description="estimated flow, litres per hour")
    volume_l: str | None = Field(None, description="litres lost from started_at to as_of (decimal text)")
    cost_yuan: str | None = Field(
        None,
        description="what those litres cost at the account's tier position (decimal text); "
        "null when no tariff prices the meter",
    )
    per_day_l: str | None = Field(None, description="litres lost per day if not fixed (0 once stopped)")
    per_day_yuan: str | None = Field(None, description="yuan per day if not fixed (decimal text)")
    started_at: datetime | None = Field(None, description="estimated start of the leak")
    detected_at: datetime | None = Field(None, description="end of the minutes that showed it")
    as_of: datetime | None = Field(None, description="end of the minutes behind volume_l and cost_yuan")
    stopped_at: datetime | None = Field(None, description="estimated time the flow stopped")
    status: str | None = Field(
        None, description="open | resolved (leaks); open | ended | escalated (notices)"
    )
    confidence: float | None = Field(None, description="0..1, a heuristic of the rule")
    utility: bool | None = Field(
        None, description="true when no account holds the meter (an alert for the utility alone)"
    )
    feedback: FeedbackOut | None = None


class AlertFull(BaseModel):
    """An alert with its lifecycle and, for leaks and notices, its figures."""

    id: int
    account_id: int | None = Field(description="null: an alert for the utility alone")
    account: str | None
    meter_id: str | None
    kind: str = Field(description="leak | unusual_use | leak_cost | balance_low | days_left")
    state: Literal["open", "acknowledged", "resolved"]
    title: str
    details: dict
    leak: LeakFigures | None
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class FeedbackIn(Strict):
    """ "mine": the water was the resident's (a pool, the garden, guests): the detector learns it and the
    alert closes. "not_mine": it was not (on an unusual-use notice, a leak alert is opened at once)."""

    verdict: Literal["mine", "not_mine"]
