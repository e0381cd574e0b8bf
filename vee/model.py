"""VEE data types: rules, edits, lifecycle windows, validated points and review findings."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from enum import StrEnum

from core.readings import Source


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
    source: Source | None = None
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Finding:
    """A failed rule on one reading of one meter: becomes a review item."""

    meter: str
    ts_s: int
    rule: Rule
    detail: str
    excluded: bool = False  # whether the reading was kept out of the validated series


@dataclass(frozen=True, slots=True)
class Interval:
    """Consumption in (start_s, end_s]; estimated when any of it comes from a gap estimate."""

    start_s: int
    end_s: int
    used_ml: int
    estimated: bool


@dataclass(slots=True)
class Series:
    """The validated series of one point: ordered points, findings, and estimated spans.

    Consumption follows the one rule (core.consumption): C at an instant is C at the last point at or
    before it (the use across a gap belongs to the point that ends it; estimated points spread it).
    """

    point: str
    points: list[Point]
    findings: list[Finding]
    estimated_spans: list[tuple[int, int]] = field(default_factory=list)
    edited_ts: list[int] = field(default_factory=list)
    _ts: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._ts = [p.ts_s for p in self.points]

    def consumption_at(self, t_s: int) -> int:
        """Cumulative consumption (ml) at t_s: the last point's at or before it (0 before the first)."""
        i = bisect_right(self._ts, t_s) - 1
        return self.points[i].cum_ml if i >= 0 else 0

    def consumption(self, start_s: int, stop_s: int) -> int:
        """Millilitres used in (start_s, stop_s]."""
        if stop_s < start_s:
            raise ValueError("stop must not be before start")
        return self.consumption_at(stop_s) - self.consumption_at(start_s)

    def uses_estimates(self, start_s: int, stop_s: int) -> bool:
        """Whether any consumption in (start_s, stop_s] comes from an estimated gap."""
        return any(a < stop_s and b > start_s for a, b in self.estimated_spans)

    def uses_edits(self, start_s: int, stop_s: int) -> bool:
        """Whether an operator's edit falls in (start_s, stop_s]."""
        return any(start_s < t <= stop_s for t in self.edited_ts) or any(
            start_s < p.ts_s <= stop_s and p.status == Status.EDITED for p in self.points
        )

    def intervals_on(self, bounds: list[int]) -> list[Interval]:
        """Consumption per (bounds[i], bounds[i+1]]."""
        out = []
        prev = self.consumption_at(bounds[0])
        for a, b in zip(bounds, bounds[1:], strict=False):
            cur = self.consumption_at(b)
            out.append(Interval(a, b, cur - prev, self.uses_estimates(a, b)))
            prev = cur
        return out

    def intervals(self, start_s: int, stop_s: int, every_s: int) -> list[Interval]:
        """Consumption per (start+k·every, start+(k+1)·every], the last one cut at stop."""
        if every_s <= 0:
            raise ValueError("every_s must be > 0")
        return self.intervals_on([*range(start_s, stop_s, every_s), stop_s])

    def findings_for(self, ts_s: int) -> list[Finding]:
        """Findings raised on the reading at ts_s."""
        return [f for f in self.findings if f.ts_s == ts_s]
