"""LeakConfig refuses bad thresholds by name."""

import pytest

from leaks.config import LeakConfig


@pytest.mark.parametrize(("field", "value", "message"), [
    ("continuous_min_lph", 0.0, "continuous_min_lph must be between"),
    ("continuous_min_lph", float("nan"), "continuous_min_lph must be a finite number"),
    ("continuous_window_h", 24.5, "continuous_window_h must be an integer"),
    ("burst_min_minutes", 0, "burst_min_minutes must be between"),
    ("burst_fast_lpm", 5.0, "burst_fast_lpm must be between"),
    ("tz_offset_s", 30, "tz_offset_s must be whole minutes"),
    ("night_end_h", 1, "night window"),
    ("resolve_fraction", 1.5, "resolve_fraction must be between"),
    ("drip_wet_fraction", "high", "drip_wet_fraction must be a finite number"),
])
def test_bad_threshold_is_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        LeakConfig(**{field: value})


def test_round_trip_and_unknown_key():
    cfg = LeakConfig(continuous_min_lph=3.0, tz_offset_s=8 * 3600)
    assert LeakConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown leak config keys: bogus"):
        LeakConfig.from_dict({"bogus": 1})
