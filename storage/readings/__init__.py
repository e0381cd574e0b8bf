"""The readings store: one contract (base.Store), InfluxDB and SQLite behind it, and the read side
(usage grids, flows, fleet views) built on the one consumption rule (core.consumption)."""

from storage.readings.base import MeterSummary, Store, StoreError
from storage.readings.factory import open_store

__all__ = ["MeterSummary", "Store", "StoreError", "open_store"]
