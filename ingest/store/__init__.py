"""Stores for readings: InfluxDB (1.x, 2.x, 3.x over /write + /query) and an embedded SQLite store."""

from ingest.store.base import Bucket, Store, StoreError, open_store

__all__ = ["Bucket", "Store", "StoreError", "open_store"]
