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

    # Steady flow below drip_max_lph is a drip, at or above it a continuous leak; a long draw that
    # never stops is a continuous leak below continuous_max_lph and a burst above.
    drip_max_lph: float = 10.0
    continuous_max_lph: float = 300.0

    # Continuous flow: every hour-long block (sliding by the minute) of the last window_h hours carried
    # at least min_lph.
    continuous_window_h: int = 24
    continuous_min_lph: float = 2.0

    # Night floor: the night's quietest hour-long block against the household's own median of past nights.
    night_start_h: int = 0
    night_end_h: int = 5
    night_margin_lph: float = 2.0
    night_baseline_nights: int = 14
    night_min_baseline_nights: int = 3

    # Dripping: every hour-long block of the last window_h hours carried at least min_lph.
    drip_window_h: int = 72
    drip_min_lph: float = 0.25

    # Running toilet: at night, min_refills similar short refills at regular intervals (each interval one
    # period, or two when a refill merged into a flush, within interval_tol of it or interval_tol_min).
    toilet_refill_min_l: float = 0.3
    toilet_refill_max_minutes: int = 3
    toilet_refill_max_l: float = 12.0
    toilet_min_refills: int = 5
    # People's flushes and taps fall into short chains by chance on a busy night, so a period under
    # toilet_short_period_min needs toilet_short_min_refills; every chain spans toilet_min_span_min.
    toilet_short_period_min: float = 40.0
    toilet_short_min_refills: int = 6
    toilet_min_span_min: float = 120.0
    toilet_similar_frac: float = 0.3
    toilet_similar_abs_l: float = 1.0
    toilet_interval_min_min: float = 3.0
    toilet_interval_max_min: float = 120.0
    toilet_interval_tol: float = 0.08
    toilet_interval_tol_min: float = 1.5
    toilet_min_share: float = 0.7

    # Burst, sustained: min_minutes minutes in a row averaging min_lpm, none below minute_floor x min_lpm
    # (the floor leaves room for readings a few seconds early or late).
    # 17 whole minutes follow a burst's first (partial) minute by 18 min at most: 2 min of margin for the
    # reading phase and the monitor's poll before the 20 min goal.
    burst_min_lpm: float = 19.8
    burst_min_minutes: int = 17
    burst_minute_floor: float = 0.98
    # Burst, fast: fast_minutes minutes in a row each at fast_lpm or more (no household draws that much).
    burst_fast_lpm: float = 60.0
    burst_fast_minutes: int = 8

    # Draws: consecutive minutes at draw_min_lpm or more (gaps of up to draw_gap_minutes bridged).
    draw_min_lpm: float = 1.0
    draw_gap_minutes: int = 2
    # A draw of notice_min_minutes and notice_min_l with no precedent in the household's own history
    # is unusual use (a notice for the resident); one that lasts long_draw_leak_h (or long_draw_factor x
    # the longest similar draw the household made) is a burst.
    notice_min_minutes: int = 30
    notice_min_l: float = 150.0
    long_draw_leak_h: float = 6.0
    long_draw_factor: float = 1.5
    # History of long draws: kept habit_days; a past draw is a precedent when its rate is within
    # habit_rate_tol and it lasted at least habit_duration_share of the current one.
    habit_days: int = 28
    habit_min_minutes: int = 15
    habit_rate_tol: float = 0.35
    habit_duration_share: float = 0.6
    # A sustained burst is held back only for a schedule: draws on habit_burst_days days that started
    # within habit_burst_window_min of this one's time of day at a rate within habit_burst_rate_tol.
    habit_burst_days: int = 2
    habit_burst_window_min: int = 15
    habit_burst_rate_tol: float = 0.07

    # Lifecycle: resolve when flow falls below this share of the estimated leak rate;
    # emit an update when the rate estimate moves by more than update_rate_change.
    resolve_fraction: float = 0.5
    update_rate_change: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str):
            raise ValueError(f"tz must be an IANA zone name, got {self.tz!r}")
        check_zone(self.tz)
        _check_range("drip_max_lph", self.drip_max_lph, 0.1, 10000, "L/h")
        _check_range("continuous_max_lph", self.continuous_max_lph, self.drip_max_lph, 100000, "L/h")
        _check_range("continuous_window_h", self.continuous_window_h, 6, 72, "h")
        _check_range("continuous_min_lph", self.continuous_min_lph, 0.1, 1000, "L/h")
        _check_range("night_start_h", self.night_start_h, 0, 23, "h")
        _check_range("night_end_h", self.night_end_h, 0, 23, "h")
        if (self.night_end_h - self.night_start_h) % 24 < 2:
            raise ValueError("the night window (night_start_h to night_end_h) must span at least 2 hours")
        _check_range("night_margin_lph", self.night_margin_lph, 0.1, 1000, "L/h")
        _check_range("night_baseline_nights", self.night_baseline_nights, 1, 90, "nights")
        _check_range(
            "night_min_baseline_nights",
            self.night_min_baseline_nights,
            1,
            self.night_baseline_nights,
            "nights",
        )
        _check_range("drip_window_h", self.drip_window_h, 24, 72, "h")
        _check_range("drip_min_lph", self.drip_min_lph, 0.01, 100, "L/h")
        _check_range("toilet_refill_min_l", self.toilet_refill_min_l, 0.001, 100, "L")
        _check_range("toilet_refill_max_minutes", self.toilet_refill_max_minutes, 1, 30, "min")
        _check_range("toilet_refill_max_l", self.toilet_refill_max_l, self.toilet_refill_min_l, 1000, "L")
        _check_range("toilet_min_refills", self.toilet_min_refills, 3, 100, "refills")
        _check_range("toilet_min_span_min", self.toilet_min_span_min, 0, 600, "min")
        _check_range("toilet_short_period_min", self.toilet_short_period_min, 0, 600, "min")
        _check_range(
            "toilet_short_min_refills", self.toilet_short_min_refills, self.toilet_min_refills, 100, "refills"
        )
        _check_range("toilet_similar_frac", self.toilet_similar_frac, 0.0, 1.0, "")
        _check_range("toilet_similar_abs_l", self.toilet_similar_abs_l, 0.0, 100, "L")
        _check_range("toilet_interval_min_min", self.toilet_interval_min_min, 1, 600, "min")
        _check_range(
            "toilet_interval_max_min", self.toilet_interval_max_min, self.toilet_interval_min_min, 1440, "min"
        )
        _check_range("toilet_interval_tol", self.toilet_interval_tol, 0.0, 1.0, "")
        _check_range("toilet_interval_tol_min", self.toilet_interval_tol_min, 0.0, 60.0, "min")
        _check_range("toilet_min_share", self.toilet_min_share, 0.0, 1.0, "")
        _check_range("burst_min_lpm", self.burst_min_lpm, 1, 10000, "L/min")
        _check_range("burst_min_minutes", self.burst_min_minutes, 1, 170, "min")
        _check_range("burst_minute_floor", self.burst_minute_floor, 0.1, 1.0, "")
        _check_range("burst_fast_lpm", self.burst_fast_lpm, self.burst_min_lpm, 10000, "L/min")
        _check_range("burst_fast_minutes", self.burst_fast_minutes, 1, self.burst_min_minutes, "min")
        _check_range("draw_min_lpm", self.draw_min_lpm, 0.01, self.burst_min_lpm, "L/min")
        _check_range("draw_gap_minutes", self.draw_gap_minutes, 0, 30, "min")
        _check_range("notice_min_minutes", self.notice_min_minutes, 1, 1440, "min")
        _check_range("notice_min_l", self.notice_min_l, 1, 1e6, "L")
        _check_range("long_draw_leak_h", self.long_draw_leak_h, self.notice_min_minutes / 60, 72, "h")
        _check_range("long_draw_factor", self.long_draw_factor, 1.0, 10.0, "")
        _check_range("habit_days", self.habit_days, 1, 365, "days")
        _check_range("habit_min_minutes", self.habit_min_minutes, 1, 1440, "min")
        _check_range("habit_rate_tol", self.habit_rate_tol, 0.0, 1.0, "")
        _check_range("habit_duration_share", self.habit_duration_share, 0.0, 1.0, "")
        _check_range("habit_burst_days", self.habit_burst_days, 1, 365, "days")
        _check_range("habit_burst_window_min", self.habit_burst_window_min, 0, 720, "min")
        _check_range("habit_burst_rate_tol", self.habit_burst_rate_tol, 0.0, 1.0, "")
        _check_range("resolve_fraction", self.resolve_fraction, 0.05, 0.95, "")
        _check_range("update_rate_change", self.update_rate_change, 0.0, 10.0, "")
        for f in fields(self):
            if f.type in ("int",) and not isinstance(getattr(self, f.name), int):
                raise ValueError(f"{f.name} must be an integer, got {getattr(self, f.name)!r}")

    def offset_s(self, ts_s: int) -> int:
        """Seconds `tz` is ahead of UTC at instant ts_s."""
        if self.tz == UTC_TZ:
            return 0
        return _offset_s(self.tz, ts_s // QUARTER_S)

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
