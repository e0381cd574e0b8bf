"""Ingest settings, validated once at start (env prefix WM_INGEST_; wM-Bus intake WM_WMBUS_)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.consumption import MAX_FLOW_LPM
from storage.config import StorageSettings

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # MQTT client ids and share groups


class IngestSettings(BaseSettings):
    """Where to read from, how much to hold in flight; the store URL is `storage.readings_url`."""

    model_config = SettingsConfigDict(env_prefix="WM_INGEST_")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    broker_host: str = "127.0.0.1"
    broker_port: int = Field(1883, ge=1, le=65535)
    broker_user: str | None = None
    broker_password: str | None = None
    broker_ca_file: str | None = None  # set: connect with TLS, verifying the broker against this CA
    client_id: str = Field("wm-ingest-0", pattern=NAME_PATTERN)
    topic_prefix: str = "wm/v1"
    # How several workers split the stream (docs/ingest.md):
    # share_group set: subscribe to $share/<group>/... (EMQX, HiveMQ, mosquitto >= 2.0.12);
    # shard_count > 1: every worker subscribes to all readings and keeps meters whose hash
    # falls in its shard_index (safe on mosquitto 2.0.11, costs N x broker fan-out).
    share_group: str | None = Field(None, pattern=NAME_PATTERN)
    shard_index: int = Field(0, ge=0)
    shard_count: int = Field(1, ge=1, le=1024)
    # Per-meter state (newest reading, open hour's roll-up, gaps): a directory of per-partition state
    # logs shared by the workers of one node; it must outlive workers (docs/ingest.md, "Per-meter state").
    # None keeps it in memory (tests, demos): a restart then takes the store's query path once per meter.
    state_path: str | None = None
    # More brokers to try in turn when the one above does not answer (a cluster's other nodes): "h:p,h:p".
    broker_failover: str = Field("", pattern=r"^([^,\s]+:[0-9]{1,5}(,[^,\s]+:[0-9]{1,5})*)?$")
    # A clustered broker that deals meters to the workers (NATS JetStream, devservices/nats.py): its mapping
    # sends a meter's readings to `<partition_topic>/<FNV-1a(id) mod shard_count>/<id>`, and each worker
    # subscribes to its one subject `<partition_topic>/<shard_index>/+` (one subscription: NATS's MQTT
    # session drops deliveries beyond its ack-pending limit when several subscriptions share it).
    partition_topic: str | None = Field(None, pattern=NAME_PATTERN)
    # Partitions of the meters (FNV-1a of the id mod this, as NATS's partition()): the unit a worker
    # holds, with its state log.
    # Fixed for a deployment: changing it re-partitions every meter's state (docs/ingest.md).
    partitions: int = Field(16, ge=1, le=4096)
    # fsync the per-meter state log before acknowledging (a power cut then loses no acknowledged state).
    state_fsync: bool = True
    # Series-limit guard: at most this many meters get state (and InfluxDB series) in one worker;
    # a new meter beyond it is dead-lettered `series_limit` (docs/schema.md, cardinality).
    max_meters: int = Field(1_500_000, ge=1)
    # How often the registry's active meters are checked for changes (one cheap statement).
    registry_refresh_s: float = Field(10.0, gt=0)
    batch_max: int = Field(5000, ge=1, le=100000)
    batch_wait_s: float = Field(0.25, gt=0, le=10)
    # Must be >= the broker's per-client in-flight window (mosquitto max_inflight_messages),
    # so paho's network thread never blocks on a full queue.
    queue_max: int = Field(50000, ge=1)
    retry_max_s: float = Field(30.0, gt=0)
    # The writer freezes what each batch made (no automatic garbage collection, ingest/collector.py);
    # this often the whole heap is unfrozen and collected (a pause of ≈ 2 s at 1M meters). The switch is
    # for a worker sharing its process with other work (the demo runs it beside the API, whose garbage
    # cycles must not wait minutes for a collection): off, the collector runs as Python's default.
    gc_manual: bool = True
    gc_full_every_s: float = Field(600.0, gt=0)
    # Per-meter flood limit: a token bucket of flood_burst messages refilled at
    # flood_rate_per_s; a message over it is rejected with reason `flood`. The burst is
    # sized for a backlog draining after an outage: 1000 one-reading messages = 16 h of
    # minute readings from one meter arriving at once (docs/ingest.md, "Flood limit").
    flood_burst: int = Field(1000, ge=1)
    flood_rate_per_s: float = Field(1.0, gt=0)
    # Flow above this between two consecutive readings is reported as `impossible_flow`; the same
    # bound tells an upward register set from use (core.consumption).
    max_flow_lpm: float = Field(MAX_FLOW_LPM, gt=0)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="before")
    @classmethod
    def _store_url(cls, data: Any) -> Any:
        # `store_url=` (the setting before storage.readings_url owned it) is read for one release.
        if isinstance(data, dict) and "store_url" in data:
            data = dict(data)
            url = data.pop("store_url")
            if url is not None and "storage" not in data:
                data["storage"] = StorageSettings(readings_url=url)
        return data

    @model_validator(mode="after")
    def _check_shard(self) -> IngestSettings:
        if self.shard_index >= self.shard_count:
            raise ValueError(f"shard_index must be 0..{self.shard_count - 1}, got {self.shard_index}")
        if self.share_group and self.shard_count > 1:
            raise ValueError("use either share_group or shard_count > 1, not both")
        if self.partition_topic and self.partitions % self.shard_count:
            raise ValueError(  # a worker's subject must hold exactly the meters of its partitions
                f"with partition_topic, shard_count ({self.shard_count}) must divide "
                f"partitions ({self.partitions})"
            )
        return self


class WmbusSettings(IngestSettings):
    """The wM-Bus intake (wmbusmeters JSON on MQTT): the ingest's settings plus its topic and id prefix."""

    model_config = SettingsConfigDict(env_prefix="WM_WMBUS_")

    client_id: str = Field("wm-wmbus-bridge", pattern=NAME_PATTERN)
    topic: str = "wmbusmeters/#"
    meter_prefix: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,16}$")
    batch_max: int = Field(500, ge=1, le=100000)  # a telegram every few minutes per meter at most


def cli_overrides(broker: str | None, store: str | None, **values: object) -> dict[str, object]:
    """Settings overrides from command-line flags: HOST:PORT, a store URL, and the flags that were given.

    ValueError names a malformed --broker.
    """
    out: dict[str, object] = {}
    if broker:
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"--broker must be HOST:PORT, got {broker!r}")
        out.update(broker_host=host, broker_port=int(port))
    if store:
        out["storage"] = StorageSettings(readings_url=store)
    out.update({k: v for k, v in values.items() if v is not None})
    return out
