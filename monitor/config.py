"""Monitor settings (env prefix WM_MONITOR_), validated once: polling, state, zone, leak thresholds."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import Invalid
from core.tariffs import tariff_for
from core.timezones import DEFAULT_TZ, check_zone
from leaks.config import LeakConfig
from storage.config import StorageSettings


class MonitorSettings(BaseSettings):
    """What the alert service polls and how the leak detector judges it.

    `leaks` holds LeakConfig fields to override (WM_MONITOR_LEAKS='{"continuous_min_lph": 3}');
    the detector's local time is `default_tz`, an IANA zone asked at every instant (DST-correct).
    """

    model_config = SettingsConfigDict(env_prefix="WM_MONITOR_")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    state_path: Path = Path("monitor_state.json")
    poll_s: float = Field(30.0, gt=0, le=3600)
    default_tz: str = DEFAULT_TZ
    # A meter new to the monitor is analysed over this much of its stored history.
    lookback_s: int = Field(30 * 86400, ge=3600, le=90 * 86400)
    # Meters whose history is read one by one per poll (new ones, late ones): the rest stays real time.
    backfill_per_poll: int = Field(200, ge=1, le=100_000)
    # How far back each fleet-wide read reaches behind the newest reading (readings written late).
    reorder_s: int = Field(120, ge=0, le=3600)
    # The state (every meter's position and the detector) is written at most this often; after a
    # restart the minutes since are fed again (the alert sink knows the alerts it has).
    checkpoint_every_s: float = Field(300.0, ge=0, le=86400)
    # Tariff (core/tariffs.json code) that prices leaks on meters no account holds; None: not priced.
    utility: str | None = None
    leaks: dict[str, Any] = Field(default_factory=dict)

    @field_validator("default_tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_zone(v)

    @field_validator("utility")
    @classmethod
    def _utility(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                tariff_for(v)
            except Invalid as err:  # an unknown utility is refused here, by name
                raise ValueError(str(err)) from err
        return v

    @field_validator("leaks")
    @classmethod
    def _leak_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "tz" in v:
            raise ValueError("set the detector's zone with default_tz, not leaks.tz")
        LeakConfig.from_dict(v)  # unknown keys and out-of-range values are refused here, by name
        return v

    def leak_config(self) -> LeakConfig:
        """The detector's thresholds in this zone."""
        return LeakConfig.from_dict({**self.leaks, "tz": self.default_tz})


@lru_cache
def get_monitor_settings() -> MonitorSettings:
    """Monitor settings from the environment, once."""
    return MonitorSettings()
