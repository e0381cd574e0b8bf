"""The ingest's view of the meter registry: the set of active meters, reloaded only when it changed.

The registry (registry/, tables in storage/registry.py) is the single source of which meters exist;
the ingest holds a snapshot in memory (a set look-up per message) and asks the database one cheap
statement every `registry_refresh_s` (has anything changed? one row's counter) — never a query per reading.
"""

from __future__ import annotations

import logging

from ingest.pipeline import ActiveMeters
from storage import registry as tables
from storage.sql import Database

log = logging.getLogger("ingest")


class RegistrySnapshot(ActiveMeters):
    """Active meters of the registry in the utility's SQL database."""

    def __init__(self, db: Database):
        self.db = db
        tables.create_tables(db)
        self._version: int | None = None
        self._active: frozenset[str] = frozenset()
        self.refresh()

    def __contains__(self, meter: object) -> bool:
        return meter in self._active

    def members(self) -> frozenset[str]:
        """The active set itself (the pipeline asks it once per message)."""
        return self._active

    def __len__(self) -> int:
        return len(self._active)

    def refresh(self) -> None:
        """Reload the active set if the registry changed since the last look."""
        version = tables.version(self.db)
        if version != self._version:
            self._active = tables.active_meters(self.db)
            self._version = version
            log.info("registry snapshot loaded", extra={"fields": {"active_meters": len(self._active)}})
