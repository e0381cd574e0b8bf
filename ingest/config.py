"""Ingest settings, validated once at start (env prefix WM_INGEST_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    """Where to read from and write to, and how much to hold in flight."""

    model_config = SettingsConfigDict(env_prefix="WM_INGEST_")

    broker_host: str = "127.0.0.1"
    broker_port: int = Field(1883, ge=1, le=65535)
    broker_user: str | None = None
    broker_password: str | None = None
    client_id: str = Field("wm-ingest-0", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    topic_prefix: str = "wm/v1"
    store_url: str = "influx://127.0.0.1:8086/water"
    batch_max: int = Field(5000, ge=1, le=100000)
    batch_wait_s: float = Field(0.25, gt=0, le=10)
    queue_max: int = Field(20000, ge=1)
    retry_max_s: float = Field(30.0, gt=0)
    metrics_port: int | None = Field(None, ge=0, le=65535)
