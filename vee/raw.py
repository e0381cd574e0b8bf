"""Read a meter's raw readings from the ingest store (never written back: raw stays raw).

Uses the store contract's `Store.readings(meter, start_s, stop_s)`.
"""

from __future__ import annotations

from ingest.model import Reading
from ingest.store.base import Store


def fetch_readings(store: Store, meter: str, start_s: int, stop_s: int) -> list[Reading]:
    """Every stored reading of `meter` with start_s < ts <= stop_s, in time order."""
    if stop_s < start_s:
        raise ValueError("stop must not be before start")
    return sorted(store.readings(meter, start_s, stop_s), key=lambda r: r.ts_s)
