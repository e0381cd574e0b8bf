"""VEE's own settings (WM_VEE_) build its validated thresholds once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vee.config import VeeSettings


def test_vee_settings_build_the_config(monkeypatch):
    monkeypatch.setenv("WM_VEE_DEFAULT_TZ", "Europe/Berlin")
    monkeypatch.setenv("WM_VEE_REVERSE_FLOW_MAX_ML", "20000")
    monkeypatch.setenv("WM_VEE_GAP_S", "1800")
    cfg = VeeSettings().config()
    assert (cfg.tz, cfg.reverse_flow_max_ml, cfg.gap_s, cfg.estimate_step_s) == (
        "Europe/Berlin",
        20_000,
        1800,
        1800,
    )
    assert cfg.rule.reverse_flow_max_ml == 20_000


def test_bad_settings_are_refused_when_read(monkeypatch):
    monkeypatch.setenv("WM_VEE_DEFAULT_TZ", "Mars/Base")
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        VeeSettings()
    monkeypatch.delenv("WM_VEE_DEFAULT_TZ")
    monkeypatch.setenv("WM_VEE_PHOTO_MIN_CONFIDENCE", "2")
    with pytest.raises(ValidationError):
        VeeSettings()
