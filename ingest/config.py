"""Ingest settings, validated once at start (env prefix WM_INGEST_)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    """Where to read from and write to, and how much to hold in flight."""

    model_config = SettingsConfigDict(env_prefix="WM_INGEST_")

    broker_host: str = "127.0.0.1"
    broker_port: int = Field(1883, ge=1, le=65535)
    broker_user: str | None = None
    broker_password: str | None = None
    broker_ca_file: str | None = None  # set: connect with TLS, verifying the broker against this CA
    client_id: str = Field("wm-ingest-0", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    topic_prefix: str = "wm/v1"
    # How several workers split the stream (docs/ingest.md):
    # share_group set: subscribe to $share/<group>/... (EMQX, HiveMQ, mosquitto >= 2.0.12);
    # shard_count > 1: every worker subscribes to all readings and keeps meters whose hash
    # falls in its shard_index (safe on mosquitto 2.0.11, costs N x broker fan-out).
    share_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    shard_index: int = Field(0, ge=0)
    shard_count: int = Field(1, ge=1, le=1024)
    store_url: str = "influx://127.0.0.1:8086/water"
    # Per-meter state (sequence, boot, last total, open gaps): a SQLite file shared by the
    # workers of one node; it must outlive workers (docs/ingest.md, "Per-meter state").
    # None keeps it in memory (tests, demos): gaps and resets are then judged per run only.
    state_path: str | None = None
    batch_max: int = Field(5000, ge=1, le=100000)
    batch_wait_s: float = Field(0.25, gt=0, le=10)
    # Must be >= the broker's per-client in-flight window (mosquitto max_inflight_messages),
    # so paho's network thread never blocks on a full queue.
    queue_max: int = Field(20000, ge=1)
    retry_max_s: float = Field(30.0, gt=0)
    # Per-meter flood limit: a token bucket of flood_burst messages refilled at
    # flood_rate_per_s; a message over it is rejected with reason `flood`. The burst is
    # sized for a backlog draining after an outage: 1000 one-reading messages = 16 h of
    # minute readings from one meter arriving at once (docs/ingest.md, "Flood limit").
    flood_burst: int = Field(1000, ge=1)
    flood_rate_per_s: float = Field(1.0, gt=0)
    # Flow above this between two consecutive readings is reported as `impossible_flow`.
    max_flow_lpm: float = Field(1000.0, gt=0)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _check_shard(self) -> IngestSettings:
        if self.shard_index >= self.shard_count:
            raise ValueError(f"shard_index must be 0..{self.shard_count - 1}, got {self.shard_index}")
        if self.share_group and self.shard_count > 1:
            raise ValueError("use either share_group or shard_count > 1, not both")
        return self
