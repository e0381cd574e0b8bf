"""What the detector emits: leak alerts with their lifecycle events, and unusual-use notices."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

# The kind of leak a crew is sent to (LeakAlert.kind); docs/leaks.md gives each one's signature.
DRIP = "drip"  # steady flow below drip_max_lph: a dripping tap or a seeping fitting
CONTINUOUS = "continuous"  # steady flow at drip_max_lph or more: a pipe, a valve, a tap left open
RUNNING_TOILET = "running_toilet"  # a cistern refilling at regular intervals through the night
BURST = "burst"  # a large draw that does not stop
KINDS = (DRIP, CONTINUOUS, RUNNING_TOILET, BURST)

# The rule that found it (LeakAlert.rule).
RULE_CONTINUOUS = "continuous_flow"  # every hour-long block of the last 24 h carried flow
RULE_NIGHT_FLOOR = "night_floor"  # the night's quietest hour-long block above the household's own nights
RULE_DRIPPING = "dripping"  # every 3 h block of the last 72 h carried a little flow
RULE_TOILET = "refills"  # similar refills at regular intervals at night
RULE_SUSTAINED = "sustained_flow"  # burst_min_minutes minutes in a row at burst_min_lpm or more
RULE_FAST = "fast_flow"  # burst_fast_minutes minutes in a row at burst_fast_lpm or more
RULE_LONG_DRAW = "long_draw"  # a draw far longer than any the household has made
BACKGROUND_RULES = (RULE_CONTINUOUS, RULE_NIGHT_FLOOR, RULE_DRIPPING, RULE_TOILET)
BURST_RULES = (RULE_SUSTAINED, RULE_FAST, RULE_LONG_DRAW)

UNUSUAL_USE = "unusual_use"

# open: a new leak; update: its rate or kind changed (deliver it); progress: litres lost so far grew (store
# it, do not deliver); resolve: it stopped.
EventKind = Literal["open", "update", "progress", "resolve"]


@dataclass(frozen=True)
class LeakAlert:
    """One leak at one meter: opened once, updated when its rate or kind changes, resolved when it stops.

    Every time is data time (Unix s of the minutes that showed it), never the time it was processed.
    """

    meter: str
    kind: str  # one of KINDS
    started_at: int  # estimated start of the leak
    detected_at: int  # end of the data that opened the alert
    rate_lph: float  # estimated leak flow, litres per hour
    confidence: float  # 0..1, a heuristic of the rule, not a calibrated probability
    evidence: dict = field(default_factory=dict)
    status: Literal["open", "resolved"] = "open"
    updated_at: int = 0  # end of the data behind the latest figures
    resolved_at: int | None = None  # end of the data that showed the flow had stopped
    rule: str = ""  # the rule that opened it (one of BACKGROUND_RULES or BURST_RULES)
    volume_l: float = 0.0  # litres lost from started_at to updated_at (to stopped_at once resolved)
    stopped_at: int | None = None  # estimated time the flow stopped

    @property
    def alert_id(self) -> str:
        """Stable identity of the alert across its events."""
        return f"{self.meter}:{self.family}:{self.detected_at}"

    @property
    def family(self) -> str:
        """'burst' or 'background'."""
        return "burst" if self.kind == BURST else "background"

    @property
    def litres_per_day(self) -> float:
        """What the leak loses per day if not fixed (0 once it stopped)."""
        return 0.0 if self.status == "resolved" else self.rate_lph * 24.0

    def to_dict(self) -> dict:
        """Plain, JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LeakAlert:
        """Inverse of to_dict."""
        return cls(**data)


@dataclass(frozen=True)
class LeakEvent:
    """A change in an alert's life: opened, updated (rate or kind), progressed (litres so far), resolved."""

    kind: EventKind
    alert: LeakAlert


@dataclass(frozen=True)
class UsageNotice:
    """A long draw unlike any the household has made: worth asking the resident, not a leak (yet).

    If the resident says it was theirs (LeakDetector.confirm_use), the pattern is learned.
    """

    meter: str
    started_at: int
    detected_at: int
    rate_lph: float
    volume_l: float  # drawn so far (at detected_at; at stopped_at once ended)
    minutes: int
    status: Literal["open", "ended", "escalated"] = "open"  # escalated: it became a burst alert
    stopped_at: int | None = None
    kind: str = UNUSUAL_USE

    @property
    def notice_id(self) -> str:
        """Stable identity across the notice's open and end."""
        return f"{self.meter}:unusual:{self.started_at}"

    def to_dict(self) -> dict:
        """Plain, JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> UsageNotice:
        """Inverse of to_dict."""
        return cls(**data)
