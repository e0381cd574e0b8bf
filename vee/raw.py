"""Read a meter's raw readings from the readings store (never written back: raw stays raw)."""

from __future__ import annotations

from core.readings import Reading
from storage.readings.base import Store


def fetch_readings(store: Store, meter: str, start_s: int, stop_s: int) -> list[Reading]:
    """Every stored reading of `meter` with start_s < ts <= stop_s, in time order."""
    if stop_s < start_s:
        raise ValueError("stop must not be before start")
    return sorted(store.readings(meter, start_s, stop_s), key=lambda r: r.ts_s)
