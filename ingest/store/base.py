"""The store contract every backend passes (tests/ingest/test_store_contract.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from ingest.model import Reading, Rejection


class StoreError(RuntimeError):
    """The store did not confirm a write or answer a query."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """The last register total in (start_s, start_s + every_s]."""

    start_s: int
    total_ml: int


@dataclass(frozen=True, slots=True, order=True)
class MeterSummary:
    meter: str
    last_ts_s: int
    last_total_ml: int


class Store(Protocol):
    """Where readings live. Writing a reading twice keeps one (identity: meter + ts)."""

    def write_readings(self, readings: list[Reading]) -> None:
        """Write and confirm; raises StoreError when the store did not confirm."""

    def write_rejections(self, rejections: list[Rejection]) -> None:
        """Keep rejected messages in the dead-letter store."""

    def rejections(self, limit: int = 100) -> list[Rejection]:
        """Most recent rejected messages, newest first."""

    def meters(self) -> list[MeterSummary]:
        """Every meter with its latest reading."""

    def last_at_or_before(self, meter: str, t_s: int) -> int | None:
        """Register total (ml) of the latest reading at or before t_s."""

    def first_after(self, meter: str, t_s: int, stop_s: int) -> int | None:
        """Register total (ml) of the earliest reading in (t_s, stop_s]."""

    def bucket_lasts(self, meter: str, start_s: int, stop_s: int, every_s: int) -> list[Bucket]:
        """Per interval (start+k·every, start+(k+1)·every] holding readings, its last total."""

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        """Every stored reading of a meter with start_s < ts <= stop_s, in time order."""

    def count_readings(self, meter: str) -> int:
        """Distinct stored readings of a meter."""

    def count_all_readings(self) -> int:
        """Distinct stored readings of every meter."""

    def close(self) -> None: ...


def open_store(url: str) -> Store:
    """A store from one URL: influx://host:port/db, influx2://…?token=…, influx3://…, sqlite:///path."""
    parsed = urlparse(url)
    if parsed.scheme in ("influx", "influx1", "influx2", "influx3", "influxdb"):
        from ingest.store.influx import InfluxStore

        return InfluxStore.from_url(url)
    if parsed.scheme == "sqlite":
        from ingest.store.sqlite import SqliteStore

        return SqliteStore(parsed.path or ":memory:")
    raise ValueError(
        f"unknown store URL scheme {parsed.scheme!r}: use influx://, influx2://, influx3:// or sqlite://"
    )
