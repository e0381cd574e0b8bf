"""Where the data lives: one owner for the readings store URL and the SQL database URL (env WM_STORAGE_).

Components compose this object (`ApiSettings.storage`, `IngestSettings.storage`, ...) instead of each
declaring its own URL with its own default. The names components used before (WM_INGEST_STORE_URL,
WM_API_STORE_URL, WM_BILLING_DB_URL, WM_API_BILLING_DB_URL, WM_API_VEE_DB_URL) are still read, for
one release.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.readings.base import STORE_SCHEMES

DEFAULT_READINGS_URL = "influx://127.0.0.1:8086/water"
# The API's default before there was one owner: an API deployment keeps its accounts (VEE's tables join them).
DEFAULT_SQL_URL = "sqlite:///wm_billing.db"


class StorageSettings(BaseSettings):
    """The readings store (InfluxDB or SQLite) and the utility's SQL database (accounts, ledger, VEE)."""

    model_config = SettingsConfigDict(env_prefix="WM_STORAGE_", populate_by_name=True, extra="ignore")

    readings_url: str = Field(
        DEFAULT_READINGS_URL,
        validation_alias=AliasChoices(
            "readings_url", "WM_STORAGE_READINGS_URL", "WM_INGEST_STORE_URL", "WM_API_STORE_URL"
        ),
        description="influx://host:port/db, influx2://…?token=…, influx3://…, or sqlite:///path",
    )
    sql_url: str = Field(
        DEFAULT_SQL_URL,
        validation_alias=AliasChoices(
            "sql_url", "WM_STORAGE_SQL_URL", "WM_BILLING_DB_URL", "WM_API_BILLING_DB_URL", "WM_API_VEE_DB_URL"
        ),
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host:port/db",
    )

    # Retention (InfluxDB): readings and their hourly roll-ups; dead letters (docs/schema.md, "Retention").
    readings_retention: str = Field("INF", pattern=r"^(INF|[1-9][0-9]{0,5}[hdw])$")
    rejected_retention: str = Field("90d", pattern=r"^(INF|[1-9][0-9]{0,5}[hdw])$")

    @field_validator("readings_url")
    @classmethod
    def _store_scheme(cls, v: str) -> str:
        scheme = urlparse(v).scheme
        if scheme not in STORE_SCHEMES:
            raise ValueError(
                f"readings_url scheme {scheme!r} is not one of {', '.join(sorted(STORE_SCHEMES))}"
            )
        return v

    @field_validator("sql_url")
    @classmethod
    def _sql_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("sql_url must be sqlite://… or postgresql+psycopg://…")
        return v


@lru_cache
def get_storage_settings() -> StorageSettings:
    """Storage settings from the environment, once."""
    return StorageSettings()
