"""Fixtures of the storage tests."""

from __future__ import annotations

import pytest

from storage.readings.sqlite import SqliteStore


@pytest.fixture
def sqlite_store_factory(tmp_path):
    """Fresh SQLite stores, closed at teardown."""
    stores: list[SqliteStore] = []

    def make() -> SqliteStore:
        stores.append(SqliteStore(str(tmp_path / f"r{len(stores)}.db")))
        return stores[-1]

    yield make
    for s in stores:
        s.close()
