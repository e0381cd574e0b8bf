"""API settings (env prefix WM_API_), validated once; tokens kept only as SHA-256 hashes.

Where the data lives is `storage` (storage.config.StorageSettings, env WM_STORAGE_): the readings store
and the utility's SQL database (accounts, ledger, VEE edits) — one URL and one default each.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing.hashing import load_key_file
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
    # A resident's correction that matches none of the photo's candidates is still stored when the
    # readings around it leave at most this much room (dashboard_api/corrections.py); else an operator.
    photo_correction_room_m3: float = Field(0.5, ge=0, le=100)
    # Local hours [start, end) whose quietest hour is the "night minimum".
    night_start_h: int = Field(2, ge=0, le=23)
    night_end_h: int = Field(5, ge=1, le=24)
    # The key of the HMACs that keep ID-card digits and SMS codes (billing.hashing): at least 32
    # characters. Unset: read from verify_key_file, created there (random, mode 0600) on first use.
    verify_key: SecretStr | None = Field(None, min_length=32)
    verify_key_file: Path = Path("wm_verify.key")
    # Development SMS sink (billing.sms.DevSmsSink): codes are kept, not sent; also appended to this
    # JSON-lines file when set. There is no carrier gateway yet (docs/security.md).
    sms_sink_file: Path | None = None
    # Request bodies above this are refused 413 (photo uploads have their own limit, photo_max_bytes).
    max_body_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)
    # Reconciliation statements (up to 100,000 lines) may be larger.
    max_statement_bytes: int = Field(20_000_000, ge=1024, le=200_000_000)

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

    @field_validator("verify_key")
    @classmethod
    def _no_placeholder_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(set(v.get_secret_value())) < 8:
            raise ValueError("verify_key must be random (at least 32 characters, not a repeated pattern)")
        return v

    def verify_key_bytes(self) -> bytes:
        """The verification key: from verify_key, else from (or created in) verify_key_file."""
        if self.verify_key is not None:
            return self.verify_key.get_secret_value().encode()
        return load_key_file(self.verify_key_file)

    @property
    def token_hashes(self) -> frozenset[str]:
        """SHA-256 hashes of the operator tokens."""
        return frozenset(hash_token(t.strip()) for t in self.tokens.split(",") if t.strip())


@lru_cache
def get_settings() -> ApiSettings:
    """Settings from the environment, once (tests override this dependency)."""
    return ApiSettings()  # tokens come from the environment (WM_API_TOKENS)


__all__ = ["ApiSettings", "get_settings", "hash_token"]
