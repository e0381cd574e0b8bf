"""The monitor's own settings (WM_MONITOR_): zone, leak thresholds, one store and database with the API."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.config import MonitorSettings


def test_leak_thresholds_and_zone_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WM_MONITOR_DEFAULT_TZ", "America/New_York")
    monkeypatch.setenv("WM_MONITOR_LEAKS", '{"continuous_min_lph": 3.5, "night_start_h": 1}')
    cfg = MonitorSettings().leak_config()
    assert (cfg.tz, cfg.continuous_min_lph, cfg.night_start_h) == ("America/New_York", 3.5, 1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WM_MONITOR_LEAKS": '{"bogus": 1}'}, "unknown leak config keys: bogus"),
        ({"WM_MONITOR_LEAKS": '{"continuous_min_lph": 0}'}, "continuous_min_lph must be between"),
        ({"WM_MONITOR_LEAKS": '{"tz": "UTC"}'}, "default_tz"),
        ({"WM_MONITOR_DEFAULT_TZ": "UTC+8"}, "not an IANA time zone"),
        ({"WM_MONITOR_POLL_S": "0"}, "poll_s"),
    ],
)
def test_bad_settings_are_refused_by_name(monkeypatch, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=message):
        MonitorSettings()
