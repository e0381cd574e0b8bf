"""API settings (env prefix WM_API_), validated once; tokens kept only as SHA-256 hashes.

Where the data lives is `storage` (storage.config.StorageSettings, env WM_STORAGE_): the readings store
and the utility's SQL database (accounts, ledger, VEE edits) — one URL and one default each.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.auth import hash_token
from core.timezones import DEFAULT_TZ, check_zone
from storage.config import StorageSettings


class ApiSettings(BaseSettings):
    """Who may read, what a query may cost, and where photos go."""

    model_config = SettingsConfigDict(env_prefix="WM_API_")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    # Comma-separated bearer tokens of utility operators; required, no default.
    tokens: str = Field(..., min_length=1)
    # Zone of queries that name none (the utility's zone: core.tariffs); IANA names only.
    default_tz: str = DEFAULT_TZ
    # Cap on the fine buckets one usage query walks (hourly for 1d/1mo): bounds time and memory.
    max_intervals: int = 50000
    # Uploaded meter photos, content-addressed (sha256) under this directory.
    photo_dir: Path = Path("wm_photos")
    photo_max_bytes: int = Field(10_000_000, ge=1024, le=100_000_000)
    # Per resident: this many uploads per rolling hour, then 429 with Retry-After.
    photo_uploads_per_hour: int = Field(20, ge=1)
    # Highest plausible flow through one household meter, for photo readings.
    photo_max_flow_m3_per_h: float = Field(3.0, gt=0)
    # Local hours [start, end) whose quietest hour is the "night minimum".
    night_start_h: int = Field(2, ge=0, le=23)
    night_end_h: int = Field(5, ge=1, le=24)

    @field_validator("tokens")
    @classmethod
    def _no_placeholder(cls, v: str) -> str:
        for token in v.split(","):
            if len(token.strip()) < 16 or token.strip() in ("changeme", "changethis"):
                raise ValueError("each API token must be at least 16 characters and not a placeholder")
        return v

    @field_validator("default_tz")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_zone(v)

    @model_validator(mode="after")
    def _night_window(self) -> ApiSettings:
        if self.night_start_h >= self.night_end_h:
            raise ValueError("night_start_h must be before night_end_h (local hours, same night)")
        return self

    @property
    def token_hashes(self) -> frozenset[str]:
        """SHA-256 hashes of the operator tokens."""
        return frozenset(hash_token(t.strip()) for t in self.tokens.split(",") if t.strip())


@lru_cache
def get_settings() -> ApiSettings:
    """Settings from the environment, once (tests override this dependency)."""
    return ApiSettings()  # tokens come from the environment (WM_API_TOKENS)


__all__ = ["ApiSettings", "get_settings", "hash_token"]
