"""API settings (env prefix WM_API_), validated once; tokens kept only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiSettings(BaseSettings):
    """Where readings are, and who may read them."""

    model_config = SettingsConfigDict(env_prefix="WM_API_")

    store_url: str = "influx://127.0.0.1:8086/water"
    # Comma-separated bearer tokens of utility operators; required, no default.
    tokens: str = Field(..., min_length=1)
    default_tz: str = "Asia/Shanghai"
    max_intervals: int = 50000

    @field_validator("tokens")
    @classmethod
    def _no_placeholder(cls, v: str) -> str:
        for token in v.split(","):
            if len(token.strip()) < 16 or token.strip() in ("changeme", "changethis"):
                raise ValueError("each API token must be at least 16 characters and not a placeholder")
        return v

    @property
    def token_hashes(self) -> frozenset[str]:
        return frozenset(hash_token(t.strip()) for t in self.tokens.split(",") if t.strip())


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()  # type: ignore[call-arg]
