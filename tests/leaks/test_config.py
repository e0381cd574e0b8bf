"""LeakConfig refuses bad thresholds by name."""

import pytest

from leaks.config import LeakConfig


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("continuous_min_lph", 0.0, "continuous_min_lph must be between"),
        ("continuous_min_lph", float("nan"), "continuous_min_lph must be a finite number"),
        ("continuous_window_h", 24.5, "continuous_window_h must be an integer"),
        ("burst_min_minutes", 0, "burst_min_minutes must be between"),
        ("burst_fast_lpm", 5.0, "burst_fast_lpm must be between"),
        ("tz", "Mars/Olympus_Mons", "not an IANA time zone"),
        ("tz", "+08:00", "not an IANA time zone"),
        ("night_end_h", 1, "night window"),
        ("resolve_fraction", 1.5, "resolve_fraction must be between"),
        ("drip_min_lph", "high", "drip_min_lph must be a finite number"),
        ("continuous_max_lph", 5.0, "continuous_max_lph must be between"),
        ("burst_minute_floor", 0.0, "burst_minute_floor must be between"),
        ("long_draw_leak_h", 0.1, "long_draw_leak_h must be between"),
        ("toilet_interval_tol", -0.1, "toilet_interval_tol must be between"),
    ],
)
def test_bad_threshold_is_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        LeakConfig(**{field: value})


def test_round_trip_and_unknown_key():
    cfg = LeakConfig(continuous_min_lph=3.0, tz="Asia/Shanghai")
    assert LeakConfig.from_dict(cfg.to_dict()) == cfg
    # a state saved by the version with a frozen offset still loads (the offset is dropped)
    assert LeakConfig.from_dict({"continuous_min_lph": 3.0, "tz_offset_s": 28800}).tz == "UTC"
    with pytest.raises(ValueError, match="unknown leak config keys: bogus"):
        LeakConfig.from_dict({"bogus": 1})


def test_local_time_follows_dst_instead_of_a_frozen_offset():
    """Regression (issue 13): monitor/service.py froze the UTC offset at start-up, so a monitor started in
    winter judged summer nights an hour off. The zone is now asked at every instant."""
    ny = LeakConfig(tz="America/New_York")
    winter = 1_736_926_200  # 2025-01-15T07:30Z = 02:30 EST (UTC-5)
    summer = 1_751_351_400  # 2025-07-01T06:30Z = 02:30 EDT (UTC-4)
    assert [(ny.local_s(t) // 3600) % 24 for t in (winter, summer)] == [2, 2]
    assert (ny.local_s(winter) - winter, ny.local_s(summer) - summer) == (-5 * 3600, -4 * 3600)
    # the night of the spring change (2025-03-09, 02:00 EST -> 03:00 EDT): 01:59 EST then 03:00 EDT
    before, after = 1_741_503_540, 1_741_503_600
    assert [((ny.local_s(t) // 60) % 1440) for t in (before, after)] == [1 * 60 + 59, 3 * 60]
