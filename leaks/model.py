"""What the detector emits: a leak alert and the lifecycle events that carry it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

# Rule names, used as LeakAlert.kind: the rule that opened the alert.
CONTINUOUS = "continuous_flow"
NIGHT_FLOOR = "night_floor"
DRIPPING = "dripping"
RUNNING_TOILET = "running_toilet"
BURST = "burst"
BURST_HISTORY = "burst_history"

# Two families: a background leak (flow under everything) and a burst (a draw that does not stop).
BACKGROUND_KINDS = (CONTINUOUS, NIGHT_FLOOR, DRIPPING, RUNNING_TOILET)
BURST_KINDS = (BURST, BURST_HISTORY)

EventKind = Literal["open", "update", "resolve"]


@dataclass(frozen=True)
class LeakAlert:
    """One leak at one meter: opened once, updated while it lasts, resolved when the flow stops."""

    meter: str
    kind: str
    started_at: int  # estimated start of the leak, Unix s
    detected_at: int  # end of the data that opened the alert, Unix s
    rate_lph: float  # estimated leak flow, litres per hour
    confidence: float  # 0..1, a heuristic of the rule, not a calibrated probability
    evidence: dict = field(default_factory=dict)
    status: Literal["open", "resolved"] = "open"
    updated_at: int = 0
    resolved_at: int | None = None

    @property
    def alert_id(self) -> str:
        """Stable identity of the alert across its events."""
        return f"{self.meter}:{self.family}:{self.detected_at}"

    @property
    def family(self) -> str:
        """'burst' or 'background'."""
        return "burst" if self.kind in BURST_KINDS else "background"

    def to_dict(self) -> dict:
        """Plain, JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LeakAlert:
        """Inverse of to_dict."""
        return cls(**data)


@dataclass(frozen=True)
class LeakEvent:
    """A change in an alert's life: opened, updated (rate or evidence), or resolved."""

    kind: EventKind
    alert: LeakAlert
