"""Open the readings store a URL names (the only module that knows every backend)."""

from __future__ import annotations

from urllib.parse import urlparse

from storage.readings.base import INFLUX_SCHEMES, Store
from storage.readings.influx import InfluxStore
from storage.readings.sqlite import SqliteStore


def open_store(url: str) -> Store:
    """A store from one URL: influx://host:port/db, influx2://…?token=…, influx3://…, sqlite:///path."""
    parsed = urlparse(url)
    if parsed.scheme in INFLUX_SCHEMES:
        return InfluxStore.from_url(url)
    if parsed.scheme == "sqlite":
        return SqliteStore(parsed.path or ":memory:")
    raise ValueError(
        f"unknown store URL scheme {parsed.scheme!r}: use influx://, influx2://, influx3:// or sqlite://"
    )
