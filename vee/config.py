"""VEE thresholds, validated once when the config is built (docs/vee.md lists every rule)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vee.model import Rule

DEFAULT_EXCLUDED = frozenset(
    {Rule.FUTURE, Rule.CLOCK_SKEW, Rule.SPIKE, Rule.PHOTO_LOW_CONFIDENCE, Rule.DUPLICATE}
)


@dataclass(frozen=True, slots=True)
class VeeConfig:
    """Every threshold the rules use; units in the names."""

    max_future_s: int = 300
    # A same-boot drop up to this is reverse flow (held at the previous total); larger is an
    # unannounced reset or swap (a new segment).
    reverse_flow_max_ml: int = 50_000
    # A reading that jumps this far above/below both consistent neighbours is a spike.
    spike_min_ml: int = 1_000_000
    # Consecutive accepted readings further apart than this get estimated points in between.
    gap_s: int = 3600
    estimate_step_s: int = 3600
    # A gap longer than this is a prolonged estimation (review item).
    max_estimation_s: int = 3 * 86400
    zero_days: int = 7
    history_days: int = 28
    min_history_days: int = 7
    high_factor: float = 3.0
    high_min_ml: int = 200_000
    low_factor: float = 0.2
    low_min_median_ml: int = 50_000
    photo_min_confidence: float = 0.8
    # Rules whose failure keeps a reading out of the validated series until an operator confirms it.
    excluded_rules: frozenset[str] = field(default=DEFAULT_EXCLUDED)
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        positive = (
            "gap_s",
            "estimate_step_s",
            "max_estimation_s",
            "zero_days",
            "history_days",
            "spike_min_ml",
            "max_future_s",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.reverse_flow_max_ml < 0:
            raise ValueError("reverse_flow_max_ml must be >= 0 ml")
        if not 0 <= self.photo_min_confidence <= 1:
            raise ValueError("photo_min_confidence must be 0..1")
        if self.high_factor <= 1 or not 0 <= self.low_factor < 1:
            raise ValueError("high_factor must be > 1 and low_factor 0..1")
        if not 1 <= self.min_history_days <= self.history_days:
            raise ValueError("min_history_days must be 1..history_days")
        if self.estimate_step_s > self.gap_s:
            raise ValueError("estimate_step_s must be <= gap_s")
        unknown = set(self.excluded_rules) - {r.value for r in Rule}
        if unknown:
            raise ValueError(f"excluded_rules has unknown rules: {sorted(unknown)}")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone {self.tz!r}") from err
