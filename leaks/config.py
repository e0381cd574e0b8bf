"""Thresholds of the leak rules: one frozen dataclass, validated once when it is built."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

from core.timezones import UTC_TZ, check_zone, utc_offset_s, zone

QUARTER_S = 900


@lru_cache(maxsize=65536)
def _offset_s(tz: str, quarter_index: int) -> int:
    # Since 1970 every IANA offset change falls on a quarter hour of UTC, so the offset at a quarter's
    # start holds for all of it; caching per quarter keeps the per-minute detector cheap.
    return utc_offset_s(quarter_index * QUARTER_S, zone(tz))


def _check_range(name: str, value: float, lo: float, hi: float, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi} {unit}, got {value}")


@dataclass(frozen=True)
class LeakConfig:
    """Every threshold of every rule; docs/leaks.md explains each one."""

    # Local time for the night and day rules: an IANA zone, asked at every instant (DST-correct).
    tz: str = UTC_TZ

    # Continuous flow: every hour of the last window_h hours carried at least min_lph.
    continuous_window_h: int = 24
    continuous_min_lph: float = 2.0

    # Night floor: lowest night hour against the household's own median of past nights.
    night_start_h: int = 0
    night_end_h: int = 5
    night_margin_lph: float = 2.0
    night_baseline_nights: int = 14
    night_min_baseline_nights: int = 3

    # Dripping: at least wet_fraction of the last window_h hours carried wet_min_l or more.
    drip_window_h: int = 72
    drip_wet_min_l: float = 0.25
    drip_wet_fraction: float = 0.9

    # Running toilet: at night, min_refills similar short refills at regular intervals.
    toilet_refill_min_l: float = 0.3
    toilet_refill_max_minutes: int = 3
    toilet_refill_max_l: float = 12.0
    toilet_min_refills: int = 4
    toilet_similar_frac: float = 0.3
    toilet_similar_abs_l: float = 1.0
    toilet_interval_min_min: float = 3.0
    toilet_interval_max_min: float = 120.0
    toilet_interval_spread: float = 1.5
    toilet_min_share: float = 0.4

    # Burst, sustained: min_lpm or more in each of min_minutes consecutive minutes,
    # or fast_lpm in each of fast_minutes.
    burst_min_lpm: float = 19.5
    burst_min_minutes: int = 19
    burst_fast_lpm: float = 40.0
    burst_fast_minutes: int = 5

    # Burst, against history: one draw of factor x the largest daily draw of the last history_days days.
    draw_min_lpm: float = 1.0
    burst_history_factor: float = 3.0
    burst_history_min_l: float = 500.0
    burst_history_min_minutes: int = 10
    burst_history_days: int = 28
    burst_history_min_days: int = 7
    burst_unarmed_l: float = 1000.0

    # Lifecycle: resolve when flow falls below this share of the estimated leak rate;
    # emit an update when the rate estimate moves by more than update_rate_change.
    resolve_fraction: float = 0.5
    resolve_quiet_hours: int = 3
    update_rate_change: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str):
            raise ValueError(f"tz must be an IANA zone name, got {self.tz!r}")
        check_zone(self.tz)
        _check_range("continuous_window_h", self.continuous_window_h, 6, 168, "h")
        _check_range("continuous_min_lph", self.continuous_min_lph, 0.1, 1000, "L/h")
        _check_range("night_start_h", self.night_start_h, 0, 23, "h")
        _check_range("night_end_h", self.night_end_h, 0, 23, "h")
        if (self.night_end_h - self.night_start_h) % 24 < 2:
            raise ValueError("the night window (night_start_h to night_end_h) must span at least 2 hours")
        _check_range("night_margin_lph", self.night_margin_lph, 0.1, 1000, "L/h")
        _check_range("night_baseline_nights", self.night_baseline_nights, 1, 90, "nights")
        _check_range("night_min_baseline_nights", self.night_min_baseline_nights, 1,
                     self.night_baseline_nights, "nights")
        _check_range("drip_window_h", self.drip_window_h, 24, 336, "h")
        _check_range("drip_wet_min_l", self.drip_wet_min_l, 0.001, 100, "L")
        _check_range("drip_wet_fraction", self.drip_wet_fraction, 0.5, 1.0, "")
        _check_range("toilet_refill_min_l", self.toilet_refill_min_l, 0.001, 100, "L")
        _check_range("toilet_refill_max_minutes", self.toilet_refill_max_minutes, 1, 30, "min")
        _check_range("toilet_refill_max_l", self.toilet_refill_max_l, self.toilet_refill_min_l, 1000, "L")
        _check_range("toilet_min_refills", self.toilet_min_refills, 3, 100, "refills")
        _check_range("toilet_similar_frac", self.toilet_similar_frac, 0.0, 1.0, "")
        _check_range("toilet_similar_abs_l", self.toilet_similar_abs_l, 0.0, 100, "L")
        _check_range("toilet_interval_min_min", self.toilet_interval_min_min, 1, 600, "min")
        _check_range("toilet_interval_max_min", self.toilet_interval_max_min, self.toilet_interval_min_min,
                     1440, "min")
        _check_range("toilet_interval_spread", self.toilet_interval_spread, 1.0, 10.0, "")
        _check_range("toilet_min_share", self.toilet_min_share, 0.0, 1.0, "")
        _check_range("burst_min_lpm", self.burst_min_lpm, 1, 10000, "L/min")
        _check_range("burst_min_minutes", self.burst_min_minutes, 1, 1440, "min")
        _check_range("burst_fast_lpm", self.burst_fast_lpm, self.burst_min_lpm, 10000, "L/min")
        _check_range("burst_fast_minutes", self.burst_fast_minutes, 1, self.burst_min_minutes, "min")
        _check_range("draw_min_lpm", self.draw_min_lpm, 0.01, self.burst_min_lpm, "L/min")
        _check_range("burst_history_factor", self.burst_history_factor, 1.0, 100, "")
        _check_range("burst_history_min_l", self.burst_history_min_l, 1, 1e6, "L")
        _check_range("burst_history_min_minutes", self.burst_history_min_minutes, 1, 1440, "min")
        _check_range("burst_history_days", self.burst_history_days, 1, 365, "days")
        _check_range("burst_history_min_days", self.burst_history_min_days, 1, self.burst_history_days,
                     "days")
        _check_range("burst_unarmed_l", self.burst_unarmed_l, self.burst_history_min_l, 1e6, "L")
        _check_range("resolve_fraction", self.resolve_fraction, 0.05, 0.95, "")
        _check_range("resolve_quiet_hours", self.resolve_quiet_hours, 1, 24, "h")
        _check_range("update_rate_change", self.update_rate_change, 0.0, 10.0, "")
        for f in fields(self):
            if f.type in ("int",) and not isinstance(getattr(self, f.name), int):
                raise ValueError(f"{f.name} must be an integer, got {getattr(self, f.name)!r}")

    def local_s(self, ts_s: int) -> int:
        """Wall-clock seconds in `tz` at instant ts_s (epoch seconds shifted by the offset then in force)."""
        return ts_s + _offset_s(self.tz, ts_s // QUARTER_S)

    @property
    def night_hours(self) -> int:
        """Length of the night window in hours."""
        return (self.night_end_h - self.night_start_h) % 24

    def to_dict(self) -> dict:
        """Plain dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LeakConfig:
        """Build from a dict; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        # tz_offset_s froze one UTC offset (wrong across DST); saved states may still carry it.
        data = {k: v for k, v in data.items() if k != "tz_offset_s"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown leak config keys: {', '.join(unknown)}")
        return cls(**data)
