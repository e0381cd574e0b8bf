"""VEE data types: rules, edits, lifecycle windows, validated points and review findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Rule(StrEnum):
    """Validation rules; a failure marks the reading and raises a review item (docs/vee.md)."""

    HIGH = "high"
    LOW = "low"
    SPIKE = "spike"
    ZERO_CONSUMPTION = "zero_consumption"
    NEGATIVE_STEP = "negative_step"
    DUPLICATE = "duplicate"
    CLOCK_SKEW = "clock_skew"
    FUTURE = "future"
    PHOTO_LOW_CONFIDENCE = "photo_low_confidence"
    PROLONGED_ESTIMATION = "prolonged_estimation"
    OUTSIDE_INSTALLATION = "outside_installation"


class Status(StrEnum):
    """Where a validated point's value comes from."""

    ACTUAL = "actual"
    EDITED = "edited"
    ESTIMATED = "estimated"
    LIFECYCLE = "lifecycle"


class EditAction(StrEnum):
    REPLACE = "replace"
    CONFIRM = "confirm"


class ReasonCode(StrEnum):
    """Why an operator changed or confirmed a reading."""

    MISREAD = "misread"
    METER_FAULT = "meter_fault"
    CUSTOMER_READ = "customer_read"
    FIELD_CHECK = "field_check"
    CONFIRMED_CORRECT = "confirmed_correct"
    SWAP_CORRECTION = "swap_correction"
    LEAK_ADJUSTMENT = "leak_adjustment"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Edit:
    """An operator's change to one reading (meter + ts); value_ml is the new total for REPLACE."""

    meter: str
    ts_s: int
    action: EditAction
    reason: ReasonCode
    operator: str
    at_s: int
    value_ml: int | None = None
    value_before_ml: int | None = None
    note: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """One physical meter installed at a point over (start_s, end_s], with its lifecycle reads."""

    meter: str
    start_s: int | None = None
    end_s: int | None = None
    initial_ml: int | None = None
    final_ml: int | None = None


@dataclass(slots=True)
class Point:
    """One point of the validated series: register value and cumulative consumption since the first."""

    ts_s: int
    meter: str
    total_ml: int  # validated register value of this point's segment
    segment: int
    status: Status
    cum_ml: int = 0  # consumption since the series began; never decreases
    raw_ml: int | None = None  # the raw total, when the point comes from a reading
    source: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Finding:
    """A failed rule on one reading of one meter: becomes a review item."""

    meter: str
    ts_s: int
    rule: Rule
    detail: str
    excluded: bool = False  # whether the reading was kept out of the validated series
