"""VEE thresholds, validated once when the config is built (docs/vee.md lists every rule), and the
settings that build them from the environment (WM_VEE_)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.consumption import MAX_FLOW_LPM, REVERSE_FLOW_MAX_ML
from core.consumption import Rule as ConsumptionRule
from core.timezones import DEFAULT_TZ, check_zone
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
    reverse_flow_max_ml: int = REVERSE_FLOW_MAX_ML
    # A rise on a new boot faster than this is an upward register set (a new segment).
    max_flow_lpm: float = MAX_FLOW_LPM
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
    tz: str = DEFAULT_TZ

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
        check_zone(self.tz)
        if not self.max_flow_lpm > 0:
            raise ValueError("max_flow_lpm must be > 0 L/min")

    @property
    def rule(self) -> ConsumptionRule:
        """The one consumption rule with these thresholds."""
        return ConsumptionRule(self.reverse_flow_max_ml, self.max_flow_lpm)


class VeeSettings(BaseSettings):
    """VEE's settings (env WM_VEE_): the zone its days and estimates use, and the main thresholds."""

    model_config = SettingsConfigDict(env_prefix="WM_VEE_")

    default_tz: str = Field(DEFAULT_TZ, description="IANA zone of local days, profiles and review rules")
    reverse_flow_max_ml: int = Field(REVERSE_FLOW_MAX_ML, ge=0)
    photo_min_confidence: float = Field(0.8, ge=0, le=1)
    gap_s: int = Field(3600, gt=0)
    max_estimation_s: int = Field(3 * 86400, gt=0)

    @field_validator("default_tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_zone(v)

    def config(self) -> VeeConfig:
        """The validated thresholds."""
        return VeeConfig(
            reverse_flow_max_ml=self.reverse_flow_max_ml,
            photo_min_confidence=self.photo_min_confidence,
            gap_s=self.gap_s,
            estimate_step_s=min(3600, self.gap_s),
            max_estimation_s=self.max_estimation_s,
            tz=check_zone(self.default_tz),
        )


@lru_cache
def get_vee_settings() -> VeeSettings:
    """VEE settings from the environment, once."""
    return VeeSettings()
